import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_read_from_the_environment_is_in_env_example():
    source = (ROOT / "unitysefer" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "no settings found: the pattern is wrong"
    assert read - listed == set()


def test_the_production_setup_runs_the_same_steps_as_make_run():
    """docker compose's one-off `migrate` service prepares the database as `make run` does: a
    deployment that skipped the Torah text would open scrolls whose positions name no letter."""
    import yaml

    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun: venv", 1)[1].split("\n\n", 1)[0]
    make_steps = re.findall(r"manage\.py (\w+)", run_recipe)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose_steps = re.findall(r"manage\.py (\w+)", " ".join(compose["services"]["migrate"]["command"]))
    assert "load_torah_text" in make_steps and make_steps[-1] == "runserver"
    assert compose_steps == make_steps[:-1]


def test_every_scheduled_task_exists_and_every_sweeper_is_scheduled():
    """A misspelt task name in the beat schedule is never run and never reported."""
    from django.conf import settings

    from unitysefer.celery import app

    app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - set(app.tasks) == set()
    sweepers = {
        "allocation.tasks.allocate_paid_orders",
        "certificates.tasks.issue_missing_certificates",
        "receipts.tasks.deliver_missing_receipts",
        "registrations.tasks.resume_name_imports",
        "siyum.tasks.resume_siyum_notices",
        "reports.tasks.send_weekly_reports",
        "scrolls.tasks.repair_progress",
        "privacy.tasks.expire_personal_data",
    }
    assert sweepers <= scheduled


def test_the_wsgi_application_loads_every_view_while_the_worker_starts():
    # Else the first request each gunicorn worker serves imports them all, WeasyPrint included.
    script = (
        "import sys; import unitysefer.wsgi; print('certificates.views' in sys.modules, 'weasyprint' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "unitysefer.settings"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == ["True", "True"], result.stdout + result.stderr
