"""The study report: self-contained, offline, escaped, and free of patient-level values."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from mh_assets.core.clustering import pairs
from mh_assets.core.publish import descriptives, figures, preview, sud_table, writers
from mh_assets.core.publish.report import (
    ReportFigure,
    ReportInput,
    ReportTable,
    Section,
    build_report,
    flatten,
)
from mh_assets_tests.support.cohorts import planted_values_in, synthetic_cohort

EXTERNAL_URL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.IGNORECASE)


class _Links(HTMLParser):
    """Collects every URL the browser would fetch or follow: src/href/… and CSS url()."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("src", "href", "action", "data", "poster", "srcset", "xlink:href"):
                self.urls.append(value)
            if name == "style":
                self.urls.extend(CSS_URL.findall(value))
            if tag == "img" and name == "src":
                self.images.append(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls.extend(CSS_URL.findall(data))


def _links(document: str) -> _Links:
    parser = _Links()
    parser.feed(document)
    parser.close()
    return parser


def _png(text: str = "x") -> bytes:
    points = pl.DataFrame({"x": [0.0], "y": [0.0], "label": [text], "group": ["a"]})
    return figures.scatter_map(points, text).png


@pytest.fixture(scope="module")
def small_png() -> bytes:
    return _png()


def test_report_has_every_section_table_and_figure_in_order(small_png):
    report = build_report(ReportInput(
        title="Study",
        cohort_flow=pl.DataFrame({"step": ["read", "excluded: sex not 1/2", "kept"],
                                  "n": [1000, 12, 988]}),
        sections=[Section("Tables", [
            "Prevalence of SUD groups by sex.",
            ReportTable("SUD by sex", pl.DataFrame({"group": ["Cannabis"], "total": ["405"]})),
            ReportFigure("Admissions per year", small_png, caption="Counts under 10 hidden."),
        ])],
        validity=Section("Validity", [ReportTable("k selection", pl.DataFrame({"k": [2, 3]}))]),
        provenance={"extract_sha256": "ab" * 32},
    ))
    headings = re.findall(r"<h2>(.*?)</h2>", report)
    assert headings == ["Contents", "Cohort flow", "Tables", "Validity", "Provenance"]
    assert re.findall(r"<h3>(.*?)</h3>", report) == [
        "Table 1. Records read, excluded (per reason) and kept", "Table 2. SUD by sex",
        "Table 3. k selection"]
    assert "<b>Figure 1.</b> Admissions per year. Counts under 10 hidden." in report
    assert '<td class="num">988</td>' in report and "<td>Cannabis</td>" in report
    assert '<td class="num">405</td>' in report  # published numbers are strings, still aligned
    for anchor in re.findall(r'href="#(s\d+)"', report):
        assert f'id="{anchor}"' in report


def test_images_are_inlined_as_data_uris_of_the_given_png(small_png):
    report = build_report(ReportInput(sections=[Section("F", [ReportFigure("f", small_png)])]))
    images = _links(report).images
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")
    assert base64.b64decode(images[0].split(",", 1)[1]) == small_png


def test_all_text_is_escaped_so_no_markup_can_be_injected(small_png):
    evil = '<script>alert("x")</script><img src="https://example.org/t.png">'
    report = build_report(ReportInput(
        title=evil, subtitle=evil,
        sections=[Section(evil, [evil, ReportTable(evil, pl.DataFrame({evil: [evil]}),
                                                   caption=evil),
                                 ReportFigure(evil, small_png, caption=evil)])],
        provenance={evil: evil},
    ))
    assert "<script" not in report  # no interactive figures: no script at all
    assert "example.org" not in " ".join(_links(report).urls)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in report


def test_provenance_is_flattened_to_sorted_dotted_keys():
    provenance = {"run_ids": ["r2", "r1"], "libraries": {"polars": "2.1", "numpy": "2.4"},
                  "git_commit": None, "checkpoints": {"male": {"mlm": "cafe"}}}
    assert flatten(provenance) == [
        ("checkpoints.male.mlm", "cafe"), ("git_commit", "not set"), ("libraries.numpy", "2.4"),
        ("libraries.polars", "2.1"), ("run_ids", "r2, r1")]
    report = build_report(ReportInput(provenance=provenance))
    assert "<td>libraries.polars</td><td>2.1</td>" in report


def test_interactive_figures_share_one_copy_of_plotly_js():
    points = pl.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "label": ["F1", "M1"],
                           "group": ["female", "male"], "hover_text": ["</script> F1", "M1"]})
    first = figures.scatter_map(points, "one")
    second = figures.scatter_map(points, "two")
    items = [ReportFigure.from_rendered(first), ReportFigure.from_rendered(second)]
    report = build_report(ReportInput(sections=[Section("Maps", items)], interactive=True))
    bundle = get_plotlyjs()
    assert report.count(bundle) == 1
    assert report.count("Plotly.newPlot(") == 2
    assert report.lower().count("</script") == report.lower().count("<script")  # none broken out
    static = build_report(ReportInput(sections=[Section("Maps", items)]))
    assert bundle not in static and "<script" not in static


def test_the_whole_study_output_makes_no_external_request_and_shows_no_patient_value(tmp_path):
    """End to end on a cohort with planted values: tables, figures, pairs, previews, report."""
    cohort = synthetic_cohort()
    sud = sud_table.publish_sud_by_sex(sud_table.sud_by_sex(cohort))
    desc = descriptives.descriptives(cohort, {"F29": "Unspecified psychosis"})
    published = descriptives.publish_descriptives(desc)
    rendered = figures.descriptive_figures(desc)
    pair_table = pairs.pair_clusters(
        [[1.0, 0.0], [0.2, 0.9]], [[0.1, 1.0], [0.9, 0.1]], ["M1", "M2"], ["F1", "F2"],
        ["F12", "F20"])
    section_tables = [ReportTable("Supplementary Table 1", sud),
                      *(ReportTable(name, frame) for name, frame in published.items()),
                      ReportTable("Cluster pairs", pair_table)]
    report = build_report(ReportInput(
        cohort_flow=pl.DataFrame({"step": ["read", "kept"], "n": [cohort.height, cohort.height]}),
        sections=[Section("Tables", section_tables),
                  Section("Figures", [ReportFigure(f.title, f.png, spec=f.spec)
                                      for f in rendered.values()])],
        provenance={"preset": "demo"}, interactive=True,
    ))
    urls = _links(report).urls
    assert urls and all(not EXTERNAL_URL.match(u) for u in urls), [
        u[:60] for u in urls if EXTERNAL_URL.match(u)]
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in urls)
    assert report.count(get_plotlyjs()) == 1

    # the inlined PNGs are checked as decoded bytes below (base64 text can spell "7777")
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", report.replace(get_plotlyjs(), ""))
    outputs: list[str | bytes] = [text]
    outputs += [base64.b64decode(u.split(",", 1)[1]) for u in _links(report).images]
    outputs += [f.html.replace(get_plotlyjs(), "") for f in rendered.values()]
    outputs += [f.png for f in rendered.values()]
    outputs += [preview.markdown_preview(t.frame) for t in section_tables]
    for path in writers.write_table(sud, tmp_path / "sud_by_sex", title="S1",
                                    headers=sud_table.SUD_HEADERS):
        outputs.append(path.read_bytes())
    for output in outputs:
        assert planted_values_in(output) == []
    # the planted patient is in the cohort, so the check above is not vacuous
    assert planted_values_in(cohort.write_csv()) != []


def test_a_float_column_reads_at_one_number_of_decimals():
    from mh_assets.core.publish.report import column_texts

    z = pl.Series("z", [43.5, 22.81, 26.0, 6.45, None])
    assert column_texts(z) == ["43.50", "22.81", "26.00", "6.45", ""]
    assert column_texts(pl.Series("n", [3, 10])) == ["3", "10"]  # integers as they are
    assert column_texts(pl.Series("big", [2846765.0, 12.5])) == ["2846765.0", "12.5"]
