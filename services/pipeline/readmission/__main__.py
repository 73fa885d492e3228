import sys

from readmission.cli import main

sys.exit(main())
