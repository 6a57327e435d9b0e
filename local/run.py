"""`make run`: the whole service on this machine, on the embedded AWS emulator, with demo data.

Starts moto's server on LOCAL_AWS_PORT (default 5000), provisions and seeds it, feeds the
visits stream to the clinic-email handler and the clinics stream to the clinic-changes handler
(printing each email sent), and serves the API
and the web page with Chalice's local server on PORT (default 8000). Ctrl-C or SIGTERM
stops everything; everything runs in this one process, so nothing is left behind.
"""

import os
import signal
import threading
import time

from chalice.config import Config

from app import app
from chalicelib.logs import logger
from local import demo, emulator
from local.gateway import dev_server
from local.scheduler import Scheduler
from local.stream_poller import CLINICS_FUNCTION_NAME, FUNCTION_NAME, EmailPrinter, StreamPoller

SENDER_EMAIL = "portal-noreply@demo-clinic.example"


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    aws_port = int(os.environ.get("LOCAL_AWS_PORT", "5000"))
    endpoint = f"http://127.0.0.1:{aws_port}"
    # The service's JSON request logs would bury the banner and the emails; ask for them with
    # POWERTOOLS_LOG_LEVEL=INFO.
    logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))

    emulator.start(aws_port)
    provisioned = emulator.provision(
        endpoint, table_prefix="portal-local", sender_email=SENDER_EMAIL, public_url=f"http://127.0.0.1:{port}"
    )
    staff_secrets = demo.seed()

    # From the streams' start, as the deployed mappings: the seed's records need no email. The
    # visits stream emails the clinic; the clinics stream sends emails kept for want of an address.
    printer = EmailPrinter()
    pollers = [
        StreamPoller(app.handler_map[name], stream_arn, endpoint, printer=printer, function_name=name).start()
        for name, stream_arn in (
            (FUNCTION_NAME, provisioned.visits_stream_arn),
            (CLINICS_FUNCTION_NAME, provisioned.clinics_stream_arn),
        )
    ]
    # EventBridge's part: the reminder sweep, through the handler Lambda runs.
    scheduler = Scheduler(app, printer).start()
    server = dev_server(app, Config.create(chalice_stage="local", app_name="client-portal"), "127.0.0.1", port)
    _stop_on_signals(server)
    _print_banner(port, endpoint, staff_secrets)
    server.serve_forever()
    scheduler.stop()
    for poller in pollers:
        poller.stop()


def _stop_on_signals(server) -> None:
    def stop(*_):
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getppid()

    def stop_when_orphaned():
        # If `make` is killed without passing the signal on, do not outlive it.
        while os.getppid() == parent:
            time.sleep(1)
        stop()

    threading.Thread(target=stop_when_orphaned, daemon=True).start()


def _print_banner(port: int, endpoint: str, staff_secrets: dict[str, str]) -> None:
    # Scripts read these lines: one per staff login, in the order of the contract.
    totp_lines = "\n".join(f"Demo staff TOTP secret: {secret}" for secret in staff_secrets.values())
    print(
        f"""
Client portal (local mode) is running.

  Web page:        http://127.0.0.1:{port}/
  API:             http://127.0.0.1:{port}/health
  API description: http://127.0.0.1:{port}/openapi.yaml
  AWS emulator:    {endpoint}  (DynamoDB, Streams, SES, Cognito)
  Clinic emails:   printed here as they are sent; all of them at
                   {endpoint}/moto-api/data.json under "ses" → "RawMessage"

Demo logins:
  patient  {demo.ALEX[2]} / {demo.PATIENT_PASSWORD}
  patient  {demo.SAM[2]} / {demo.PATIENT_PASSWORD}
  patient  {demo.RILEY_EMAIL} / {demo.PATIENT_PASSWORD}  (a patient of both clinics)
  staff    {demo.STAFF_LOGIN[0]} / {demo.STAFF_LOGIN[1]}  (then a code from the TOTP secret below)
  staff    {demo.NORTHSIDE_STAFF_LOGIN[0]} / {demo.NORTHSIDE_STAFF_LOGIN[1]}  (Northside Counseling; the second secret)

{totp_lines}
  e.g. .venv/bin/python -c "import pyotp; print(pyotp.TOTP('<secret>').now())"

Press Ctrl-C to stop.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
