"""Training data: reading files into normalised records, checking their health, and fixing them.

    from studio.data import load_dataset, check_dataset, apply_fixes
    ds = load_dataset("reviews.csv")                  # format and columns detected
    report = check_dataset(ds, tokenizer=tok, max_length=512)
    fixed, what = apply_fixes(ds, ["drop_duplicates"], out_dir="data/versions")

Previews as data (trained-token pieces, the first records as a table) are in ``studio.data.preview``;
the web UI draws them (``studio.ui.data_view``).
"""

from studio.data.fixes import FIXES, FixRecord, FixResult, apply_fixes, strip_markup
from studio.data.formats import FORMATS
from studio.data.health import Finding, Report, check_dataset
from studio.data.intake import Dataset, RecordStream, load_dataset, load_records, open_records

__all__ = ["FIXES", "FORMATS", "Dataset", "Finding", "FixRecord", "FixResult", "RecordStream", "Report", "apply_fixes",
           "check_dataset", "load_dataset", "load_records", "open_records", "strip_markup"]
