#!/usr/bin/env python3
# Writes the seed corpus of fuzz/xlsx_fuzz.cpp into fuzz/corpus/: a few tiny workbooks, valid and
# not, each a few hundred bytes. Rerun after changing it: python3 make_corpus.py
import io, os, warnings, zipfile

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
M = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
P = "http://schemas.openxmlformats.org/package/2006/relationships"


def rels(*items):
    body = "".join(f'<Relationship Id="{i}" Type="{R}/{t}" Target="{g}"/>' for i, t, g in items)
    return f'<Relationships xmlns="{P}">{body}</Relationships>'


def book(rows, sst=("Name", "Phone"), styles=None, wbpr="", sheets=(("Sheet1", "rId1"),)):
    sheet_list = "".join(f'<sheet name="{n}" sheetId="{k + 1}" r:id="{i}"/>'
                         for k, (n, i) in enumerate(sheets))
    parts = {
        "[Content_Types].xml": "<Types/>",
        "_rels/.rels": rels(("rId1", "officeDocument", "xl/workbook.xml")),
        "xl/workbook.xml": f'<workbook xmlns="{M}" xmlns:r="{R}">{wbpr}<sheets>{sheet_list}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": rels(("rId1", "worksheet", "worksheets/sheet1.xml"),
                                           ("rId2", "sharedStrings", "/xl/sharedStrings.xml"),
                                           ("rId3", "styles", "styles.xml")),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{M}"><dimension ref="A1"/><sheetData>{rows}</sheetData></worksheet>',
        "xl/sharedStrings.xml": f'<sst xmlns="{M}">' + "".join(f"<si>{s}</si>" if s.startswith("<") else f"<si><t>{s}</t></si>" for s in sst) + "</sst>",
        "xl/styles.xml": styles or f'<styleSheet xmlns="{M}"><numFmts><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/></cellXfs></styleSheet>',
    }
    return parts


def write(name, parts, method=zipfile.ZIP_DEFLATED, extra=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for k, v in list(parts.items()) + list(extra):
            z.writestr(k, v)
    with open(os.path.join(here, name), "wb") as f:
        f.write(buf.getvalue())
    return buf.getvalue()


os.makedirs(here, exist_ok=True)
basic = write("basic.xlsx", book(
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><r><t>Caf_x00E9_</t></r><rPh><t>x</t></rPh></is></c>'
    '<c r="B2"><v>4155550100</v></c><c r="C2" s="1"><v>45351</v></c><c r="D2" s="2"><v>60.5</v></c>'
    '<c r="E2" t="b"><v>1</v></c><c r="F2" t="e"><v>#N/A</v></c><c r="G2" t="str"><f>A1</f><v>x</v></c></row>'
    '<row><c><v>1.5e-7</v></c><c r="XFD3"><v>2</v></c></row>'))
write("stored.xlsx", book('<row><c t="s"><v>0</v></c></row>', sst=("<r><t>a</t></r><r><t>b</t></r>",),
                          wbpr='<workbookPr date1904="1"/>'), zipfile.ZIP_STORED)
write("sheets.xlsx", book('<row r="1048576"><c r="A1048576"><v>1</v></c></row>',
                          sheets=(("Chart", "rId9"), ("Data", "rId1"))))
write("bad_index.xlsx", book('<row><c t="s"><v>5</v></c></row>'))
write("doctype.xlsx", book('<row/>', sst=()) | {"xl/sharedStrings.xml": '<!DOCTYPE a [<!ENTITY e "x">]><sst/>'})
write("outside.xlsx", book('<row/>') | {"_rels/.rels": rels(("rId1", "officeDocument", "../x.xml"))})
with open(os.path.join(here, "truncated.xlsx"), "wb") as f:
    f.write(basic[: len(basic) // 2])
with open(os.path.join(here, "legacy.xls"), "wb") as f:
    f.write(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(56))
# Issue 11's attacks: deep and unclosed XML, ambiguous packages, digits beyond 2^53, Name at XFD.
write("deep.xlsx", book('<row r="1"><c r="A1" t="s"><v>0</v></c></row>' + "<a>" * 70 + "</a>" * 70))
write("unclosed.xlsx", book("") | {"xl/worksheets/sheet1.xml": f'<worksheet xmlns="{M}"><sheetData>' + "<a>" * 10000})
warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
write("twin_entries.xlsx", book('<row><c t="s"><v>0</v></c></row>'),
      extra=[("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{M}"><sheetData/></worksheet>')])
write("case_entries.xlsx", {"XL/Worksheets/Sheet1.xml": f'<worksheet xmlns="{M}"><sheetData/></worksheet>'} |
      book('<row><c t="s"><v>1</v></c></row>'))
write("twin_sheets.xlsx", book('<row><c t="s"><v>0</v></c></row>', sheets=(("Sheet1", "rId1"), ("SHEET1", "rId1"))))
write("numbers.xlsx", book('<row><c><v>1.23456789012345E+17</v></c><c><v>9007199254740993</v></c>'
                           '<c><v>-1e21</v></c><c><v>5e-324</v></c><c><v>9.99e-7</v></c></row>'))
write("xfd_header.xlsx", book('<row r="1"><c r="A1" t="s"><v>1</v></c><c r="XFD1" t="s"><v>0</v></c></row>'
                              '<row r="2"><c r="XFD2" t="inlineStr"><is><t>Ada</t></is></c></row>'))
