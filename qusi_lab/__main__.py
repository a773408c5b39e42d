"""``python -m qusi_lab`` runs the ``qusi-lab`` command line (also under ``torchrun -m qusi_lab``)."""

import sys

from qusi_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
