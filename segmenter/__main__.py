import sys

from segmenter.cli import main

sys.exit(main())
