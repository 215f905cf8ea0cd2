"""LinkedIn profile addresses (any linkedin.com host) and bare handles become the handle; anything else is refused."""
import pytest

from raf_network.network.linkedin import linkedin_handle


@pytest.mark.parametrize("text, handle", [
    ("https://www.linkedin.com/in/jelena-zoric/", "jelena-zoric"),
    ("https://rs.linkedin.com/in/jelena-zoric", "jelena-zoric"),
    ("rs.linkedin.com/in/marko-markovic-12345?trk=public_profile", "marko-markovic-12345"),
    ("http://linkedin.com/in/ana_anic", "ana_anic"),
    ("LinkedIn.com/in/Petar-Petrovic/details/experience/", "Petar-Petrovic"),
    ("www.linkedin.com/in/jelena-zori%C4%87-1a2b3c/", "jelena-zorić-1a2b3c"),
    ("  jelena-zoric  ", "jelena-zoric"),
    ("@jelena-zoric", "jelena-zoric"),
    ("", None),
    ("   ", None),
    (None, None),
])
def test_profile_addresses_and_handles_become_the_handle(text, handle):
    assert linkedin_handle(text) == handle


@pytest.mark.parametrize("text", [
    "https://facebook.com/jelena.zoric",
    "https://linkedin.com.evil.example/in/jelena",
    "https://notlinkedin.com/in/jelena",
    "https://www.linkedin.com/company/raf",
    "https://www.linkedin.com/pub/jelena-zoric/1a/2b/3c",
    "https://www.linkedin.com/in/",
    "ftp://linkedin.com/in/jelena",
    "javascript:alert(1)",
    "jelena zoric",
    "ab",
    "-jelena",
    "a" * 101,
    "https://www.linkedin.com/in/<script>",
])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        linkedin_handle(text)
