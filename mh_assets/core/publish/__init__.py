"""What may leave ``restricted/``: suppressed tables, their files, figures and the report.

    table = sud_table.sud_by_sex(cohort)                       # restricted aggregate
    published = sud_table.publish_sud_by_sex(table, min_cell)  # small cells hidden
    writers.write_table(published, layout.table_stem("sud_by_sex"), store=store,
                        title=display.heading("sud_by_sex"), headers=sud_table.SUD_HEADERS)
    figures.descriptive_figures(descriptives.descriptives(cohort), min_cell)
    report.build_report(report.ReportInput(...))               # one self-contained HTML

:mod:`.suppression` is the one place small cells are hidden (primary and secondary);
:mod:`.sud_table`, :mod:`.descriptives` and :mod:`.cluster_table` build the tables
(:mod:`.intervals`: their Wilson CIs); :mod:`.catalog` numbers and captions them and
:mod:`.display` names their columns for readers; :mod:`.writers` puts them on disk as
CSV/XLSX/DOCX; :mod:`.preview` renders them for the UI; :mod:`.report_sections`
gathers the published files into the report.
"""
