"""The dashboards' Streamlit script, which `pcr dashboard` runs: the settings are read once from
the environment here, and the app (dashboards/app.py) receives them."""
import sys
from pathlib import Path

# `streamlit run` puts this script's folder first on the path, where pcr/dbt.py would stand in
# for the dbt package; the project root is what the imports below need.
_PCR_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if not entry or Path(entry).resolve() != _PCR_DIR]
if str(_PCR_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_PCR_DIR.parent))

from dashboards.app import main  # noqa: E402
from pcr.settings import Settings  # noqa: E402

main(Settings.from_env())
