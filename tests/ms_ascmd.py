"""Microsoft's ActiveSync Autodiscover XSDs ([MS-ASCMD] 6.2, 6.4), from ../shared, for validation.

The copy in ../shared (OfficeDev/Interop-TestSuites) refers to `mobilesync:Response` without the
`xs:import` that [MS-ASCMD] 6.4 has, so the import is added to the parsed tree before compiling.
Without the files (a clone without ../shared) validation is left out of the tests that check more
than validity, and the tests that only validate skip with the reason.
"""

import pytest
from lxml import etree

from autoconfig.formats.mobilesync import RESPONSE_NS

from .conftest import SHARED

XSD_DIR = SHARED / "data" / "schemas" / "ms-ascmd"
RESPONSE_XSD = XSD_DIR / "AutodiscoverResponse.xsd"
MOBILESYNC_XSD = XSD_DIR / "AutodiscoverMobileSync.xsd"
XS = "http://www.w3.org/2001/XMLSchema"


def available() -> bool:
    return RESPONSE_XSD.is_file() and MOBILESYNC_XSD.is_file()


def load_schema() -> etree.XMLSchema:
    """The combined schema; skips the calling test when the XSDs are not there."""
    if not available():
        pytest.skip(f"Microsoft's XSDs are absent ({XSD_DIR})")
    document = etree.parse(str(RESPONSE_XSD))
    root = document.getroot()
    if root.find(f"{{{XS}}}import") is None:
        root.insert(
            0,
            etree.Element(
                f"{{{XS}}}import", namespace=RESPONSE_NS, schemaLocation=MOBILESYNC_XSD.name
            ),
        )
    return etree.XMLSchema(document)


def optional_schema() -> etree.XMLSchema | None:
    """For tests that check more than validity: they run without the XSDs and validate with."""
    return load_schema() if available() else None


def assert_valid(schema: etree.XMLSchema | None, body: bytes) -> None:
    """Validate when the schema is there (`test_..._xsds_...` tests report a skip otherwise)."""
    if schema is None:
        return
    document = etree.fromstring(body)
    assert schema.validate(document), schema.error_log.filter_from_errors()
