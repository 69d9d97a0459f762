"""Everything clients receive, rendered from the model: pure functions, provider (and address)
in, bytes or text out, no I/O.

- thunderbird.py: `config-v1.1.xml` (Thunderbird, Thunderbird for Android, Delta Chat...) and
  the ISPDB export form.
- outlook.py: Autodiscover POX settings, `redirectAddr` and error answers (Outlook).
- mobilesync.py: ActiveSync Autodiscover answers (MS-ASCMD).
- autodiscover_json.py: Autodiscover v2 JSON (new Outlook, Outlook mobile).
- mobileconfig.py: Apple configuration profiles; profile_signing.py signs them (CMS).
- pacc.py: the PACC document and its TXT digest.
- settings_view.py, settings_page.py: what a person copies, and the HTML page around it.
- zone.py: the DNS records a domain needs, as zone-file text.
- template.py: pre-rendered documents with slots, filled per request with escaped values.
- xml_writer.py: elements and serialised documents, for every XML format.
- pox_request.py: reads Autodiscover POX requests (the common shape by one strict regular
  expression, anything else with the hardened parser).
- hardened_xml.py: the one parser for XML from outside (requests, ISPDB files, fetched answers).
"""
