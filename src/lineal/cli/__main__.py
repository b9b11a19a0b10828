import sys

from lineal.cli import main

sys.exit(main())
