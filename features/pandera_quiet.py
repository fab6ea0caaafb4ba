"""pandera, imported once without the warning PySpark prints when it is installed.

pandera imports ``pyspark.pandas`` at import time whenever PySpark is installed (the
optional Spark engine), and PySpark warns that it does not fully support pandas 3. The
pandas engine never touches ``pyspark.pandas``, so on every command that warning would only
confuse the person reading the output.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    import pandera.pandas as pa
    from pandera.typing import Series

__all__ = ["Series", "pa"]
