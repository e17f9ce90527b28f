"""``redact``: host URLs as logs and errors show them."""

import pytest

from winstackers.cim import redact


@pytest.mark.parametrize(("url", "shown"), [
    ("https://admin@hv01:5986/wsman?auth=ntlm", "https://hv01:5986/wsman?auth=ntlm"),
    ("https://admin:s3cret@hv01/wsman", "https://hv01/wsman"),
    ("http://DOMAIN%5Cadmin@hv01:5985/wsman?auth=kerberos", "http://hv01:5985/wsman?auth=kerberos"),
    ("emulator://", "emulator://"),
    ("emulator://lab", "emulator://lab"),
    ("emulator:///tmp/host.json", "emulator:///tmp/host.json"),
    ("local://", "local://"),
])
def test_user_and_password_never_shown_the_rest_kept(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "s3cret" not in redact(url) and "admin" not in redact(url)
