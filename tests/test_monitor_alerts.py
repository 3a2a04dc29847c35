"""Alerts on executions delivered to a real webhook receiver and a real SMTP server on
127.0.0.1, retried when they fail and recorded either way; and the retraining trigger."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import tarfile
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from helpers import free_port
from monitor_support import HOUR, csv_captures, platform, table, write_capture
from slipway.monitor import DatasetFormat, DefaultModelMonitor
from slipway.monitor.models import DeliveryStatus, ExecutionStatus

END = HOUR + dt.timedelta(hours=1)


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs and fails the first ``failures``."""

    def __init__(self, failures: int = 0, port: int = 0) -> None:
        self.failures = failures
        self.bodies: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.attempts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.attempts <= receiver.failures:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                receiver.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(failures=2)
    yield found
    found.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def drifted(tmp_path: Path):
    """A baseline, and captures of the hour HOUR that drift from it."""
    with platform(tmp_path / "home"):
        monitor = DefaultModelMonitor()
        train = tmp_path / "train.csv"
        table(2000).to_csv(train, index=False)
        monitor.suggest_baseline(str(train), DatasetFormat.csv(), str(tmp_path / "baseline"))
        write_capture(tmp_path / "capture", "churn", csv_captures(table(400, seed=3, shift=30_000)))
        yield monitor


def settled(monitor: DefaultModelMonitor, execution: str, count: int) -> list:
    """The execution's deliveries once their first round of attempts is over."""
    deadline = time.monotonic() + 30
    while True:
        found = monitor.backend.list_alert_deliveries(execution_name=execution)
        done = [d for d in found if d.status != DeliveryStatus.PENDING or d.attempts >= 3]
        if len(done) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _schedule(monitor: DefaultModelMonitor, tmp_path: Path, **kwargs) -> None:
    monitor.create_monitoring_schedule(
        endpoint_input="churn",
        output_s3_uri=str(tmp_path / "out"),
        monitor_schedule_name="churn-alerts",
        data_capture_uri=str(tmp_path / "capture"),
        **kwargs,
    )


def test_alerts_reach_a_webhook_after_retries_an_inbox_and_the_log(
    drifted, tmp_path, receiver, smtp, caplog
):
    box, port = smtp
    _schedule(
        drifted,
        tmp_path,
        alert_rules=[
            {"AlertName": "hook", "Channel": "Webhook", "WebhookUrl": receiver.url},
            {
                "AlertName": "mail",
                "Condition": "CheckType",
                "CheckType": "baseline_drift_check",
                "Channel": "Email",
                "EmailTo": ["oncall@example.com"],
                "SmtpPort": port,
            },
            {
                "AlertName": "income",
                "Condition": "FeatureDrift",
                "FeatureName": "income",
                "DriftThreshold": 0.2,
                "Channel": "Log",
            },
            {
                "AlertName": "quiet",
                "Condition": "FeatureDrift",
                "FeatureName": "score",
                "DriftThreshold": 0.5,
                "Channel": "Log",
            },
            {"AlertName": "broken", "Condition": "ExecutionFailed", "Channel": "Log"},
        ],
    )
    with caplog.at_level(logging.WARNING, logger="slipway.monitor.alerts"):
        execution = drifted.run_execution(HOUR, END, timeout=60)
    assert execution.monitoring_execution_status == ExecutionStatus.COMPLETED_WITH_VIOLATIONS
    deliveries = {d.alert_name: d for d in settled(drifted, execution.monitoring_execution_name, 3)}
    assert set(deliveries) == {"hook", "mail", "income"}
    assert all(d.status == DeliveryStatus.DELIVERED for d in deliveries.values())
    assert deliveries["hook"].attempts == 3  # two 503 answers, then through
    (body,) = receiver.bodies
    assert body["MonitoringExecutionName"] == execution.monitoring_execution_name
    assert body["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert {v["feature_name"] for v in body["Violations"]} >= {"income"}
    (raw,) = box.messages
    mail = message_from_bytes(raw)
    assert mail["To"] == "oncall@example.com"
    assert "churn-alerts: CompletedWithViolations" in mail["Subject"]
    text = mail.get_payload()
    assert "income: baseline_drift_check: Baseline drift distance" in text
    assert "completeness_check" not in text  # the rule asked for drift only
    assert any("monitoring alert income" in r.getMessage() for r in caplog.records)


def test_an_unreachable_webhook_is_retried_later_and_failures_are_recorded(drifted, tmp_path):
    port = free_port()  # nothing listens here yet
    _schedule(
        drifted,
        tmp_path,
        alert_rules=[
            {"AlertName": "hook", "Channel": "Webhook", "WebhookUrl": f"http://127.0.0.1:{port}/h"},
        ],
    )
    execution = drifted.run_execution(HOUR, END, timeout=60)
    (pending,) = settled(drifted, execution.monitoring_execution_name, 1)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.attempts == 3
    assert "Webhook delivery to" in pending.last_error
    assert pending.next_attempt_time > dt.datetime.now(dt.UTC)
    # Not due yet: nothing is tried.
    assert drifted.backend.retry_alert_deliveries() == 0
    later = pending.next_attempt_time + dt.timedelta(seconds=1)
    assert drifted.backend.retry_alert_deliveries(later) == 1
    (still,) = drifted.backend.list_alert_deliveries(schedule_name="churn-alerts")
    assert (still.status, still.attempts) == (DeliveryStatus.PENDING, 4)
    receiver = Receiver(port=port)  # the receiver is up now
    try:
        assert drifted.backend.retry_alert_deliveries(still.next_attempt_time) == 1
    finally:
        receiver.close()
    (done,) = drifted.backend.list_alert_deliveries(schedule_name="churn-alerts")
    assert (done.status, done.attempts) == (DeliveryStatus.DELIVERED, 5)
    assert receiver.bodies[0]["AlertName"] == "hook"


def test_a_delivery_that_never_succeeds_ends_failed_and_logged(drifted, tmp_path, caplog):
    port = free_port()
    _schedule(
        drifted,
        tmp_path,
        alert_rules=[
            {"AlertName": "hook", "Channel": "Webhook", "WebhookUrl": f"http://127.0.0.1:{port}/h"},
        ],
    )
    execution = drifted.run_execution(HOUR, END, timeout=60)
    settled(drifted, execution.monitoring_execution_name, 1)
    when = dt.datetime.now(dt.UTC)
    with caplog.at_level(logging.ERROR, logger="slipway.monitor.alerts"):
        for _ in range(5):
            when += dt.timedelta(hours=1)
            drifted.backend.retry_alert_deliveries(when)
    (failed,) = drifted.backend.list_alert_deliveries(schedule_name="churn-alerts")
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 6)
    assert any("was not delivered after 6 attempts" in r.getMessage() for r in caplog.records)


def test_violations_start_the_retraining_job_linked_to_the_execution(drifted, tmp_path):
    from slipway.platform import services
    from slipway.training.models import CreateTrainingJob

    source = tmp_path / "code"
    source.mkdir()
    (source / "train.py").write_text("print('retrained')\n")
    training = services().training
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        tar.add(source / "train.py", arcname="train.py")
    uri = training.upload_source("churn-retrain", [packed.getvalue()])
    definition = CreateTrainingJob(
        training_job_name="churn-retrain", entry_point="train.py", source_uri=uri
    )
    _schedule(
        drifted,
        tmp_path,
        retraining={
            "TrainingJobDefinition": definition.to_wire(),
            "TriggerOn": ["baseline_drift_check"],
        },
    )
    execution = drifted.run_execution(HOUR, END, timeout=60)
    job_name = execution.retraining_job_name
    assert job_name and job_name.startswith("churn-retrain-")
    job = training.wait(job_name, timeout=60)
    assert job.training_job_status == "Completed", job.failure_reason
    component = services().experiments.get_trial_component(job.trial_component_name)
    lineage = component.input_artifacts["MonitoringExecution"]
    assert (
        lineage.value == f"arn:slipway:monitoring-execution/{execution.monitoring_execution_name}"
    )
    assert component.input_artifacts["ConstraintViolations"].value == (
        execution.constraint_violations_uri
    )
    spec = services().jobs.get_job(training_kind(), job_name).spec
    assert {
        "Key": "slipway:monitoring-execution",
        "Value": execution.monitoring_execution_name,
    } in spec["Tags"]


def training_kind():
    from slipway.jobs.models import JobKind

    return JobKind.TRAINING
