"""MAST downloads, offline: a fake MAST answers at the HTTP transport layer.

Only ``requests.adapters.HTTPAdapter.send`` (the socket boundary of every requests call) is
replaced. Everything above it is real: lightkurve's search and download code, astroquery's MAST
portal client (column configs, filtered queries, paging, product lists, file downloads) and
qusi_lab.download. The fake serves canned MAST JSON built from a small catalogue and SPOC FITS
files written by qusi_lab.synthetic / qusi_lab.io.
"""

from __future__ import annotations

import io
import json
import urllib.parse
from pathlib import Path
from typing import Any

import lightkurve as lk
import numpy as np
import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from qusi_lab.download import (
    DEFAULT_TOI_TABLE_URL,
    download_spoc_transit_experiment,
    load_toi_table,
    spoc_light_curves,
    spoc_target_tic_ids,
)
from qusi_lab.io import read_light_curve, write_spoc_fits
from qusi_lab.lightcurve import LightCurve
from qusi_lab.synthetic import spoc_file_name

MAST = "https://mast.stsci.edu"

# The MAST column configuration astroquery needs to turn criteria into filters.
COLUMNS_CONFIG = {
    name: {"vot.datatype": datatype}
    for name, datatype in {
        "project": "char", "provenance_name": "char", "dataproduct_type": "char", "target_name": "char",
        "obs_collection": "char", "obs_id": "char", "sequence_number": "int", "t_exptime": "double",
        "t_min": "double", "s_ra": "double", "s_dec": "double", "obsid": "char",
    }.items()
}
OBSERVATION_FIELDS = {
    "intentType": "string", "obs_collection": "string", "provenance_name": "string", "project": "string",
    "target_name": "string", "obs_id": "string", "s_ra": "float", "s_dec": "float",
    "dataproduct_type": "string", "t_min": "float", "t_max": "float", "t_exptime": "float",
    "sequence_number": "int", "obsid": "string", "dataURL": "string", "instrument_name": "string",
    "filters": "string", "calib_level": "int", "proposal_id": "string", "obs_title": "string",
}
PRODUCT_FIELDS = {
    "obsID": "string", "obs_collection": "string", "dataproduct_type": "string", "obs_id": "string",
    "description": "string", "type": "string", "dataURI": "string", "productType": "string",
    "productGroupDescription": "string", "productSubGroupDescription": "string", "project": "string",
    "productFilename": "string", "size": "int", "parent_obsid": "string", "dataRights": "string",
    "calib_level": "int", "prvversion": "string", "proposal_id": "string", "productDocumentationURL": "string",
}


class FakeMast:
    """A tiny MAST: TESS SPOC 2-minute observations of a few stars, files served from disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.observations: list[dict[str, Any]] = []
        self.files: dict[str, Path] = {}
        self.requests: list[tuple[str, str]] = []
        self.toi_csv = ""

    @staticmethod
    def position(tic_id: int) -> tuple[float, float]:
        return float(tic_id % 360), -60.0

    def add_star(self, tic_id: int, sectors: list[int], exptime: float = 120.0) -> None:
        ra, dec = self.position(tic_id)
        for sector in sectors:
            name = spoc_file_name(tic_id, sector)
            path = self.directory / name
            time = 1325.3 + 27.35 * (sector - 1) + np.arange(2000) * 2 / 1440
            flux = np.random.default_rng(tic_id + sector).normal(1000.0, 1.0, time.size)
            write_spoc_fits(LightCurve(time, flux), path, tic_id=tic_id, sector=sector, tess_mag=10.0)
            obs_id = name.replace("_lc.fits", "")
            obsid = str(60_000_000 + len(self.observations))
            self.files[name] = path
            self.observations.append({
                "intentType": "science", "obs_collection": "TESS", "provenance_name": "SPOC", "project": "TESS",
                "target_name": str(tic_id), "obs_id": obs_id, "s_ra": ra, "s_dec": dec,
                "dataproduct_type": "timeseries", "t_min": 58325.3 + 27.35 * (sector - 1),
                "t_max": 58352.0 + 27.35 * (sector - 1), "t_exptime": exptime, "sequence_number": sector,
                "obsid": obsid, "dataURL": f"mast:TESS/product/{name}", "instrument_name": "Photometer",
                "filters": "TESS", "calib_level": 3, "proposal_id": "G011112", "obs_title": "",
            })

    # ------------------------------------------------------------------ MAST services
    def _matches(self, row: dict[str, Any], criterion: dict[str, Any]) -> bool:
        value = row.get(criterion["paramName"])
        for allowed in criterion["values"]:
            if isinstance(allowed, dict):
                if allowed["min"] <= value <= allowed["max"]:
                    return True
            elif str(value).lower() == str(allowed).lower():
                return True
        return False

    def _table(self, fields: dict[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "status": "COMPLETE", "msg": "",
            "fields": [{"name": name, "type": kind} for name, kind in fields.items()],
            "data": rows,
            "paging": {"page": 1, "pageSize": len(rows), "pagesFiltered": 1, "rows": len(rows),
                       "rowsFiltered": len(rows), "rowsTotal": len(rows)},
        }

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        service, params = request["service"], request["params"]
        if service in ("Mast.Caom.Filtered", "Mast.Caom.Filtered.Position"):
            rows = [row for row in self.observations if all(self._matches(row, c) for c in params["filters"])]
            if service == "Mast.Caom.Filtered":
                return self._table(OBSERVATION_FIELDS, rows)
            # A cone search: every star of the fake sky sits at its own position, 1 degree apart.
            ra, dec, radius = (float(value) for value in params["position"].split(","))
            near = [{**row, "distance": 0.0} for row in rows
                    if abs(row["s_ra"] - ra) <= radius and abs(row["s_dec"] - dec) <= radius]
            return self._table({**OBSERVATION_FIELDS, "distance": "float"}, near)
        if service == "Mast.Caom.Products":
            wanted = set(params["obsid"].split(","))
            products = []
            for row in self.observations:
                if row["obsid"] in wanted:
                    name = row["dataURL"].split("/")[-1]
                    products.append({
                        "obsID": row["obsid"], "obs_collection": "TESS", "dataproduct_type": "timeseries",
                        "obs_id": row["obs_id"], "description": "Light curves", "type": "S",
                        "dataURI": row["dataURL"], "productType": "SCIENCE",
                        "productGroupDescription": "Minimum Recommended Products",
                        "productSubGroupDescription": "LC", "project": "TESS", "productFilename": name,
                        "size": self.files[name].stat().st_size, "parent_obsid": row["obsid"],
                        "dataRights": "PUBLIC", "calib_level": 3, "prvversion": "", "proposal_id": "",
                        "productDocumentationURL": "",
                    })
            return self._table(PRODUCT_FIELDS, products)
        return {"status": "ERROR", "msg": f"the fake MAST has no service {service}"}

    # ------------------------------------------------------------------ HTTP
    def respond(self, request: requests.PreparedRequest) -> requests.Response:
        url = str(request.url)
        self.requests.append((str(request.method), url))
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        status, content, content_type = 404, b"not found", "text/plain"
        if url == f"{MAST}/portal/Mashup/Mashup.asmx/columnsconfig":
            status, content, content_type = 200, json.dumps(COLUMNS_CONFIG).encode(), "application/json"
        elif url == f"{MAST}/api/v0/invoke":
            form = urllib.parse.parse_qs(body)
            payload = self.invoke(json.loads(form["request"][0]))
            status, content, content_type = 200, json.dumps(payload).encode(), "application/json"
        elif url.startswith(f"{MAST}/api/v0.1/Download/file"):
            uri = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["uri"][0]
            path = self.files.get(uri.split("/")[-1])
            if path is not None:
                status, content, content_type = 200, path.read_bytes(), "application/fits"
        elif url.startswith("http://mastresolver.stsci.edu/Santa-war/query"):
            # The name resolver knows TIC numbers only (their catalogue position); other names fail.
            name = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["name"][0]
            resolved = []
            if name.upper().startswith("TIC "):
                ra, dec = self.position(int(name.split()[1]))
                resolved = [{"searchString": name.lower(), "resolver": "TIC", "ra": ra, "decl": dec}]
            status, content = 200, json.dumps({"resolvedCoordinate": resolved}).encode()
            content_type = "application/json"
        elif url == DEFAULT_TOI_TABLE_URL:
            status, content, content_type = 200, self.toi_csv.encode(), "text/csv"
        response = requests.Response()
        response.status_code = status
        response.url = url
        response.request = request
        response.headers = CaseInsensitiveDict({"Content-Type": content_type, "Content-Length": str(len(content))})
        response.raw = io.BytesIO(b"" if request.method == "HEAD" else content)
        response.encoding = "utf-8"
        return response


@pytest.fixture()
def fake_mast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeMast:
    mast = FakeMast(tmp_path / "archive")
    mast.directory.mkdir()

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        return mast.respond(request)

    monkeypatch.setattr(HTTPAdapter, "send", send)
    # lightkurve memoises searches; each test's fake archive is new.
    lk.search_lightcurve.cache_clear()
    return mast


def test_spoc_light_curves_runs_lightkurve_search_and_download(fake_mast: FakeMast, tmp_path: Path) -> None:
    fake_mast.add_star(25155310, [1, 2])
    fake_mast.add_star(31415926, [1])
    # 27182818 has no data (MAST resolves it, the cone search finds nothing); "Nowhere" cannot be resolved.
    with pytest.warns(UserWarning, match="no SPOC light curves found") as caught:
        paths = spoc_light_curves([25155310, "TIC 31415926", "27182818", "Nowhere"],
                                  directory=tmp_path / "downloads")
    assert sorted(str(item.message).split(":")[0] for item in caught) == ["Nowhere", "TIC 27182818"]
    assert [path.name for path in paths] == [spoc_file_name(25155310, 1), spoc_file_name(25155310, 2),
                                             spoc_file_name(31415926, 1)]
    for path in paths:
        # lightkurve's own layout: mastDownload/TESS/<obs_id>/<file>
        assert path.is_file() and path.parts[-4:-2] == ("mastDownload", "TESS")
        assert path.read_bytes() == fake_mast.files[path.name].read_bytes()
        assert read_light_curve(path).target_id.startswith("TIC ")
    # The requests went through astroquery's MAST portal API: a query, a product list, downloads.
    urls = [url for _, url in fake_mast.requests]
    assert any(url.endswith("/api/v0/invoke") for url in urls)
    assert sum("/Download/file" in url for url in urls) >= 3
    # Only the sectors asked for; files already on disk are not fetched again.
    downloads_before = sum("/Download/file" in url for url in urls)
    again = spoc_light_curves([25155310], sectors=[2], directory=tmp_path / "downloads")
    assert [path.name for path in again] == [spoc_file_name(25155310, 2)]
    assert sum("/Download/file" in url for _, url in fake_mast.requests) == downloads_before


def test_spoc_target_tic_ids_queries_each_sector(fake_mast: FakeMast) -> None:
    fake_mast.add_star(101, [27])
    fake_mast.add_star(102, [27, 28])
    fake_mast.add_star(103, [28])
    assert sorted(spoc_target_tic_ids([27])) == [101, 102]
    assert sorted(spoc_target_tic_ids([27, 28])) == [101, 102, 103]
    assert sorted(spoc_target_tic_ids([27, 28], minimum=2)) == [101, 102]


def test_download_spoc_transit_experiment_lays_out_the_tutorial_dataset(fake_mast: FakeMast, tmp_path: Path) -> None:
    planets, false_positive, others = [201, 202, 203, 204], 205, [301, 302, 303, 304, 305, 306, 307, 308]
    for tic in [*planets, false_positive, *others]:
        fake_mast.add_star(tic, [27, 28])
    fake_mast.add_star(206, [5])  # a TOI host without data in the sectors asked for: skipped
    fake_mast.toi_csv = pd.DataFrame({
        "TOI": [101.01, 102.01, 103.01, 104.01, 105.01, 106.01],
        "TIC ID": [201, 202, 203, 204, 205, 206],
        "TFOPWG Disposition": ["CP", "KP", "PC", "", "FP", "PC"],
    }).to_csv(index=False)

    manifest = download_spoc_transit_experiment(
        tmp_path / "data", n_positive=4, n_negative=6, sectors=[27, 28], split_fractions=(0.5, 0.25, 0.25),
        seed=1, progress=False,
    )
    assert set(manifest.loc[manifest["class"] == "positive", "tic_id"]) == set(planets)
    negatives = set(manifest.loc[manifest["class"] == "negative", "tic_id"])
    assert len(negatives) == 6 and negatives <= {false_positive, *others}
    # Split by star: each star in one split; each split has both classes.
    assert manifest.groupby("tic_id")["split"].nunique().max() == 1
    assert manifest.groupby("split")["class"].nunique().to_dict() == {"train": 2, "validation": 2, "test": 2}
    root = tmp_path / "data" / "spoc_transit_experiment"
    for _, row in manifest.iterrows():
        path = tmp_path / "data" / row["path"]
        assert path.parent == root / row["split"] / row["class"] and path.is_file()
        assert read_light_curve(path).target_id == f"TIC {row['tic_id']}"
    assert (root / "manifest.csv").is_file()

    from qusi_lab.data import LightCurveDataset

    datasets = LightCurveDataset.from_experiment(root, input_length=64)
    assert sum(len(dataset) for dataset in datasets.values()) == len(manifest) == 10


def test_toi_tables_from_either_archive(tmp_path: Path) -> None:
    exofop = tmp_path / "exofop.csv"
    pd.DataFrame({"TIC ID": [5, 6], "TFOPWG Disposition": ["PC", "FP"]}).to_csv(exofop, index=False)
    archive = tmp_path / "archive.csv"
    archive.write_text("# NASA Exoplanet Archive\ntid,tfopwg_disp\n7,CP\n")
    assert load_toi_table(exofop)[["tic_id", "disposition"]].values.tolist() == [[5, "PC"], [6, "FP"]]
    assert load_toi_table(str(archive))[["tic_id", "disposition"]].values.tolist() == [[7, "CP"]]
    with pytest.raises(ValueError, match="TIC id column"):
        load_toi_table(pd.DataFrame({"name": ["x"]}))
