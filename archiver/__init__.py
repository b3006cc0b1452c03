"""archiver: keep the links and images a blog cites from rotting away.

The pipeline, one module a stage: `inputs` (what the command line names -> posts,
live pages, sitemaps and feeds fetched), `extract` (posts -> links), `fetch` (links ->
captures), `health` (captures -> statuses), `pack` (captures -> WARC files), `history`
(checks across runs -> verdicts), `report` (and `output`, the verdicts on standard
output), `restore` and `export`; `job` runs them in
order, and `model` holds the values that pass between them (docs/architecture.md).
The names below are the public API.
"""

from archiver.config import Config, ExtractSettings, load_config
from archiver.errors import ArchiverError, ConfigError, InputError, OptionError
from archiver.extract import extract
from archiver.model import (
    Extraction,
    Form,
    Link,
    LinkKind,
    Occurrence,
    Post,
    PostDocument,
    Problem,
    Skip,
    SkipReason,
)

__version__ = "0.1.0"

__all__ = [
    "ArchiverError",
    "Config",
    "ConfigError",
    "ExtractSettings",
    "Extraction",
    "Form",
    "InputError",
    "Link",
    "LinkKind",
    "Occurrence",
    "OptionError",
    "Post",
    "PostDocument",
    "Problem",
    "Skip",
    "SkipReason",
    "__version__",
    "extract",
    "load_config",
]
