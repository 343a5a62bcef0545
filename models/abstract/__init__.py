"""Semantic PHY abstraction: per-image outcome tables calibrated from the neural codecs.

The system-level analogue of a SINR-to-BLER table: :mod:`.table` holds (and checks) one
calibrated table, :mod:`.diffsem_calibration` builds DiffSem's from the shipped networks.
No simulator, SimPy or argparse here; torch only inside the calibration.
"""

from .table import (
    TABLE_DIR,
    AbstractTable,
    CalibrationError,
    OutOfRangeError,
    cell_and_draw,
    effective_snr_db,
    load_table,
    save_table,
    select_tprime_np,
    table_name,
)

__all__ = ["TABLE_DIR", "AbstractTable", "CalibrationError", "OutOfRangeError", "cell_and_draw",
           "effective_snr_db", "load_table", "save_table", "select_tprime_np", "table_name"]
