import xml.sax

from lxml import etree


def parse(text):
    # ruleid: xxe-parser
    parser = etree.XMLParser(resolve_entities=True)
    # ok: xxe-parser
    safe = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(text, parser), safe


def sax(handler):
    reader = xml.sax.make_parser()
    # ruleid: xxe-parser
    reader.setFeature(xml.sax.handler.feature_external_ges, True)
    # ok: xxe-parser
    reader.setFeature(xml.sax.handler.feature_external_ges, False)
    reader.setContentHandler(handler)
    return reader
