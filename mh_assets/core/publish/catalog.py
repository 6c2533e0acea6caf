"""Every published table and figure, numbered and captioned in one place.

The report, the Word and Excel files and the UI all take a table's or a figure's
number, title and caption from here, so "Supplementary Table S1" is the same table
everywhere and a caption is never a file name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """``number`` ("S1", "2"), ``title`` (one line), ``caption`` (what a reader needs)."""

    number: str
    title: str
    caption: str = ""


#: Published table stem (under tables/, without suffix; ``{sex}`` where per sex) -> entry.
TABLES: dict[str, Entry] = {
    # Numbered in the report's reading order; S1 is the study's Supplementary Table 1.
    "sud_by_sex": Entry(
        "S1", "Substance use disorders by sex",
        "Patients with a code of each substance group (ICD-10 block) in any diagnosis field of "
        "any admission, counted once per group. Rates are percentages of all patients, of all "
        "males and of all females, with Wilson 95% confidence intervals; p: chi-square test of "
        "sex by group with Yates' correction. Alcohol (F10) and nicotine (F17) were not in the "
        "study's table and are added here (Added: yes)."),
    "clusters": Entry(
        "S2", "Clusters by sex",
        "Every cluster of each sex, numbered by size within its sex, with a descriptive name "
        "from its most distinctive codes: patients (n) and share of the sex, the five ICD-10 "
        "codes of highest c-DF-IPF (their shares, lift and scores are in Supplementary Table "
        "S3), the dominant descriptor terms (class-based TF-IDF), stability (mean Jaccard "
        "similarity to the best-matching cluster over bootstrap resamples) and the mean "
        "number of codes per patient."),
    "cluster_codes": Entry(
        "S3", "Top diagnostic codes of each cluster",
        "For each cluster's five codes of highest c-DF-IPF: patients of the cluster with the "
        "code (n and %) and the share of the other patients of the same sex with it (%), each "
        "with a Wilson 95% confidence interval. Lift: share in the cluster divided by the share "
        "in the whole sex. c-DF-IPF: share in the cluster times ln(patients of the sex / "
        "patients of the sex with the code). A share, lift or score that would reveal a count "
        "below 10 is withheld: most often for a code that fewer than 10 patients outside the "
        "cluster have, the very codes that mark a cluster out, so their rank stands without "
        "its score."),
    "cluster_pairs": Entry(
        "S4", "Male and female cluster pairs",
        "Male and female clusters matched one to one by the cosine similarity of their "
        "c-DF-IPF profiles over the same codes (Hungarian assignment, the largest total "
        "similarity); a cluster left without a partner when the sexes have different numbers "
        "of clusters is listed as unmatched. Shared codes weigh most in both profiles; "
        "differing codes differ most between them."),
    "descriptives": Entry(
        "S5", "Cohort descriptives: tests by sex",
        "Length of stay and APR cost: Mann-Whitney U test (two-sided; U of the females). "
        "Discharge year, APR severity and principal diagnosis (the 20 most frequent and all "
        "others): chi-square test. n: admissions (discharges), the records the clusters "
        "call patients: each discharge is analysed as one patient, see Limitations."),
}

#: Published figure stem (under figures/, without suffix; ``{sex}`` where per sex) -> entry.
FIGURES: dict[str, Entry] = {
    # Figures 1-6: the cohort (cohort_descriptives). Counts are admissions (discharges).
    "fig1_admissions_by_year": Entry(
        "1", "Admissions by year and sex",
        "Admissions per year of discharge, female and male. The last year is partial where "
        "the admission window ends within it (the study's: admissions up to 15 March 2020; "
        "see Methods), so its bar is no sign of a trend. A count from 1 to 9 is drawn as a "
        "hatched bar up to 10 and labelled \"<10\" (the bar shows the bound, not the count); "
        "\"*\" marks a count withheld so that such a count cannot be derived from the totals."),
    "fig2_top_principal_diagnoses": Entry(
        "2", "Most frequent principal diagnoses, by sex",
        "The ten most frequent principal diagnoses (ICD-10-CM) of both sexes together, ranked "
        "on the pooled count; each bar is the share of that sex's admissions (%), on one scale "
        "for both sexes. Hatched bars labelled \"<10\" stand for 1 to 9 admissions (drawn to "
        "the share 10 would be); \"*\" marks a withheld value."),
    "fig3_stay_boxplot": Entry(
        "3", "Length of stay by sex",
        "Length of stay (days). Boxes: quartiles and median; whiskers: 1.5 times the "
        "interquartile range, clipped to the 1st and the pooled 99th percentile. Individual "
        "values and outliers are not drawn."),
    "fig4_stay_histogram": Entry(
        "4", "Distribution of the length of stay, by sex",
        "Admissions (n) per bin of length of stay (days), values capped at the pooled 99th "
        "percentile: the last bin holds every stay above the cap. A bin of 1 to 9 admissions "
        "is drawn as a hatched bar up to 10 labelled \"<10\"; \"*\" marks a bin withheld so "
        "that such a bin cannot be derived from the sex's total."),
    "fig5_apr_severity": Entry(
        "5", "APR severity of illness by sex",
        "Share of each sex's admissions (%) at each APR-DRG severity-of-illness level (1 minor "
        "to 4 extreme). Hatched bars labelled \"<10\" stand for 1 to 9 admissions (drawn to the "
        "share 10 would be); \"*\" marks a withheld value."),
    "fig6_apr_cost": Entry(
        "6", "APR cost by sex",
        "APR-DRG cost of the admission (EUR), capped at the pooled 99th percentile. Left: "
        "quartiles and median, whiskers 1.5 times the interquartile range (no individual "
        "values). Right: admissions (n) per cost bin; the last bin holds every cost above the "
        "cap; hatched bars labelled \"<10\" stand for 1 to 9 admissions, \"*\" for a withheld "
        "bin."),
    # Figure 7: what the clusters are made of (cluster_maps), one panel per sex.
    "cluster_prevalence_map_{sex}": Entry(
        "7", "Prevalence of the clusters' top codes ({sex})",
        "Share of each cluster's patients with each code (%): the five codes of highest "
        "c-DF-IPF of every {sex} cluster (fewer each beyond six clusters), among codes held "
        "by at least 10 of its patients. "
        "Column headers give the cluster and its size (patients). A hatched grey cell labelled "
        "\"<10\" stands for 1 to 9 patients; \"*\" marks a cell withheld so that such a count "
        "cannot be derived from the code's published total, and the cells of a cluster whose "
        "size is withheld."),
    # Supplementary figures: the choice of k (k_selection) and patient maps (cluster_maps).
    "k_selection_{sex}": Entry(
        "S1", "Choice of the number of clusters ({sex})",
        "Internal validity of K-Means at each number of clusters k, mean and standard "
        "deviation over bootstrap resamples of the {sex} patients: silhouette (cosine) and "
        "macro-silhouette (higher is better), Calinski-Harabasz (higher is better) and "
        "Davies-Bouldin (lower is better). The dashed line marks the chosen k. All indices "
        "are unitless."),
    "embedding_map_pca_{sex}": Entry(
        "S2", "Patient embeddings, PCA ({sex})",
        "The first two principal components of the embeddings of a seeded sample of up to "
        "2,000 {sex} patients, coloured by cluster. Axes are unitless; no point is labelled."),
    "embedding_map_umap_{sex}": Entry(
        "S3", "Patient embeddings, UMAP ({sex})",
        "A seeded UMAP (cosine) of the embeddings of a sample of up to 2,000 {sex} patients, "
        "coloured by cluster. Distances between groups are not to scale; axes are unitless; "
        "no point is labelled."),
}
