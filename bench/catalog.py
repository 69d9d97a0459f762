"""A large generated catalog for `make bench`: 1,000 providers, one hoster with 100,000 domains."""

from pathlib import Path

PROVIDERS = 1000
HOSTED_DOMAINS = 100_000


def provider_domain(index: int) -> str:
    return f"provider{index}.example"


def hosted_domain(index: int) -> str:
    return f"customer{index}.hosted.example"


def write(folder: Path) -> Path:
    """Write providers.yaml and its domain-list file into folder; return the YAML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["providers:"]
    lines += [
        "  - id: hoster.example",
        "    displayName: Hoster",
        "    domains: [hoster.example]",
        "    domainsFile: customers.txt",
        "    incoming:",
        "      - {type: imap, hostname: imap.hoster.example, socketType: SSL}",
        "      - {type: pop3, hostname: pop.hoster.example, socketType: SSL}",
        "    outgoing:",
        "      - {hostname: smtp.hoster.example, socketType: SSL}",
        "      - {hostname: smtp.hoster.example, socketType: STARTTLS}",
    ]
    for index in range(PROVIDERS):
        domain = provider_domain(index)
        lines += [
            f"  - id: {domain}",
            f"    displayName: Provider {index}",
            f"    domains: [{domain}, mail.{domain}]",
            "    incoming:",
            f"      - {{type: imap, hostname: imap.{domain}, socketType: SSL}}",
            f"      - {{type: pop3, hostname: pop.{domain}, socketType: SSL}}",
            "    outgoing:",
            f"      - {{hostname: smtp.{domain}, socketType: SSL}}",
            f"      - {{hostname: smtp.{domain}, socketType: STARTTLS}}",
            "    caldav: https://dav.example.net/calendars/",
            "    activeSync: https://eas.example.net/Microsoft-Server-ActiveSync",
        ]
    (folder / "customers.txt").write_text(
        "".join(f"{hosted_domain(i)}\n" for i in range(HOSTED_DOMAINS))
    )
    path = folder / "providers.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
