"""Where reports go and how they are written: `<report dir>/<tenant>/<week>.html`, atomically.

The folder is ASKPRO_REPORT_DIR, else `$ASKPRO_DATA_DIR/reports` (`./.askpro/reports`). A file is
written beside its final name and renamed over it, so a reader (a browser, a mail job) sees the
old report or the new one, never half a page.
"""

import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from askpro_pipelines.report.data import ReportData, load_report
from askpro_pipelines.report.html import render_report
from askpro_pipelines.report.week import IsoWeek
from askpro_pipelines.tenants import Tenant
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.store import default_data_dir

REPORT_DIR_ENV = "ASKPRO_REPORT_DIR"


def report_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get(REPORT_DIR_ENV)
    return Path(explicit).resolve() if explicit else default_data_dir(env) / "reports"


def report_path(folder: Path, tenant: str, week: IsoWeek) -> Path:
    return folder / tenant / f"{week}.html"


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def tenant_secrets(tenant: Tenant, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the tenant's key and secret variables that are set: never written into a report."""
    env = os.environ if environ is None else environ
    names = [tenant.calcom.api_key_env, tenant.calcom.webhook_secret_env]
    if tenant.retell is not None:
        names.append(tenant.retell.api_key_env)
    return [env[name] for name in names if name and env.get(name)]


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    data: ReportData


def write_report(
    warehouse: Warehouse, tenant: Tenant, week: IsoWeek, folder: Path, now: dt.datetime | None = None
) -> WrittenReport:
    """Load the tenant-week, render it and write it to `<folder>/<tenant>/<week>.html`."""
    data = load_report(warehouse, tenant, week, now)
    path = report_path(folder, tenant.slug, week)
    write_atomic(path, render_report(data, tenant_secrets(tenant)))
    return WrittenReport(path, data)
