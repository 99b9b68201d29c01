"""tunescope's engine: configuration, data, models, tuners and reports.

Nothing in this package imports Textual or Rich, and TensorFlow is imported
only where a model is built or trained, so that the command line and the app
start without it.
"""

import logging

__version__ = "0.1.0"

# A library logger that the host application configures or silences.
logging.getLogger("tunescope").addHandler(logging.NullHandler())
