import sys

from svdgan.cli import main

sys.exit(main())
