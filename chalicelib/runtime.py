"""The one step that points the service at a deployment: `bind(settings)`.

Each entry point binds once: the Lambda functions from their environment (`ensure_bound`,
called by the handlers in `app.py`), and `make run`, the tests, the benchmark and the
operations command with the settings they build. Binding points the pynamodb models at the
tables and drops every AWS client made for an earlier binding.
"""

from chalicelib import auth, aws, config, models, signing, tracing
from chalicelib.config import Settings


def bind(settings: Settings) -> Settings:
    config.use(settings)
    models.bind(settings)
    aws.reset_clients()
    auth.forget_keys()
    signing.forget_keys()
    return settings


def ensure_bound() -> Settings:
    """A Lambda function's settings come from its environment, read on its first call."""
    if not config.is_bound():
        tracing.start()
        return bind(Settings.from_environment())
    return config.current()
