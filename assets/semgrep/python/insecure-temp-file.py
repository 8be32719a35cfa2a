import tempfile


def scratch(data):
    # ruleid: insecure-temp-file
    name = tempfile.mktemp()
    # ruleid: insecure-temp-file
    with open("/tmp/report.txt", "w") as handle:
        handle.write(data)
    # ok: insecure-temp-file
    with tempfile.NamedTemporaryFile("w", delete=False) as handle:
        handle.write(data)
    # ok: insecure-temp-file
    with open("report.txt", "w") as handle:
        handle.write(data)
    return name
