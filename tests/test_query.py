"""Reading the address from a query string: the one-regex fast path and the general path agree."""

from urllib.parse import quote

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autoconfig.address import AddressError, parse_address
from autoconfig.web.query import ANY_ADDRESS, AddressQuery, query_value

NAME_SETS = (("emailaddress",), ("email",), ANY_ADDRESS.names)


def general(path: str, names: tuple[str, ...]):
    """What the handlers did before the fast path: query_value, then parse_address."""
    given = query_value(make_mocked_request("GET", path), names)
    if not given:
        return None
    try:
        return parse_address(given)
    except AddressError:
        return None


_LOCAL = st.text(alphabet="abcXYZ019.!$'*/?^_`{|}~-+%&=#@ ", min_size=0, max_size=70)
_DOMAIN = st.text(alphabet="abcxyz09.-ÄB", min_size=0, max_size=70)
_KEY = st.sampled_from(
    ["emailaddress", "EmailAddress", "EMAIL", "email", "Email", "e-mail", "address", "emailaddres"]
)


@settings(max_examples=1500, deadline=None)
@given(
    key=_KEY,
    local=_LOCAL,
    domain=_DOMAIN,
    separator=st.sampled_from(["%40", "@", "%2540", "%4"]),
    before=st.sampled_from(["", "x=1&", "emailaddress=a%40b.example&"]),
    after=st.sampled_from(["", "&Protocol=AutodiscoverV1", "&email=other%40b.example", "&"]),
    encode=st.booleans(),
    names=st.sampled_from(NAME_SETS),
)
@example(
    key="emailaddress", local="user1", domain="provider3.example", separator="%40",
    before="", after="", encode=False, names=("emailaddress",),
)  # fmt: skip
@example(
    key="Email", local="someone", domain="Example.COM.", separator="@",
    before="", after="&Protocol=AutodiscoverV1", encode=False, names=("email",),
)  # fmt: skip
def test_the_fast_reading_is_the_general_one_or_nothing(
    key, local, domain, separator, before, after, encode, names
):
    value = quote(f"{local}@{domain}", safe="") if encode else f"{local}{separator}{domain}"
    path = f"/mail/config-v1.1.xml?{before}{key}={value}{after}"
    try:
        request = make_mocked_request("GET", path)
    except ValueError:
        return  # not a request target aiohttp accepts
    fast = AddressQuery(*names).everyday(request)
    if fast is not None:
        assert fast == general(path, names)


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/mail/config-v1.1.xml?emailaddress=user1%40provider3.example", ("emailaddress",)),
        ("/email.mobileconfig?email=someone@Example.COM", ANY_ADDRESS.names),
        ("/autodiscover/autodiscover.json?Email=a.b%40c.example&Protocol=x", ("email",)),
    ],
)
def test_what_clients_send_takes_the_fast_path(path, names):
    """The everyday forms must be read by the fast path, or it is dead code."""
    fast = AddressQuery(*names).everyday(make_mocked_request("GET", path))
    assert fast is not None
    assert fast == general(path, names)


@pytest.mark.parametrize(
    "query",
    [
        "emailaddress=user%2Btag%40example.com",  # an escape other than %40
        "emailaddress=user+tag%40example.com",  # + is a space in a query
        "x=1&emailaddress=user%40example.com",  # not the first parameter
        "emailaddress=%22quoted%22%40example.com",
        "emailaddress=user%40b%C3%BCcher.example",
        "emailaddress=user%40-bad-.example",
        "emailaddress=" + "a" * 65 + "%40example.com",
    ],
)
def test_everything_else_is_left_to_the_general_path(query):
    request = make_mocked_request("GET", f"/mail/config-v1.1.xml?{query}")
    assert AddressQuery("emailaddress").everyday(request) is None
