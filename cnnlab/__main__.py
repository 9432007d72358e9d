import os
import sys

from cnnlab.cli import main

code = main()
if len(sys.argv) > 1 and sys.argv[1] == "train":
    # The run is recorded and its files closed: skip TensorFlow's slow teardown (see cnnlab.cli).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
raise SystemExit(code)
