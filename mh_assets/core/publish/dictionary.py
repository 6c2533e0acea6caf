"""The data dictionary: what every column of every published table means.

The UI shows each table asset's column schema; with a description per column an
analyst (or an auditor) can read ``eta_excess`` or ``ci_low`` without the code. One
dictionary for every table, because the same column means the same thing everywhere.
"""

from __future__ import annotations

COLUMNS: dict[str, str] = {
    # identifiers
    "sex": "Sex partition (female / male).",
    "cluster": "0-based cluster id, largest cluster first (internal; the label is stable).",
    "cluster_label": "Cluster label: F1..Fk / M1..Mk by size, largest first.",
    "method": "Representation the clustering was made from.",
    "representation": "Patient representation: the run's, the descriptor mean, a baseline, "
                      "or the n_codes-only reference.",
    "variable": "The variable the row describes.",
    "role": "confounder (warned on) or outcome (reported only).",
    "group": "Group of the row (SUD block group; or outcome group: independent of the coding "
             "/ derived from the codes / masked diagnosis).",
    "task": "Outcome or masked diagnosis predicted.",
    "test": "Statistical test.",
    "code": "ICD-10 code (normalised, no dot).",
    "descriptor": "ICD-10-CM descriptor of the code.",
    "icd10_block": "ICD-10 block (3-character categories).",
    "pair": "Pair number by descending similarity (empty when unmatched).",
    "male_label": "Male cluster label.", "female_label": "Female cluster label.",
    "rank": "Rank within the group (1 = most frequent).",
    "name": "Descriptive cluster name from its most distinctive codes (next to the label).",
    "male_name": "Descriptive name of the male cluster.",
    "female_name": "Descriptive name of the female cluster.",
    "status": "Evaluation: scored, or too rare (fewer than 10 patients with or without the "
              "outcome). Pairs: matched, closest (not matched) or no partner.",
    "n_in": "Patients of the cluster with the code (under 10 shown as <10).",
    "pct_in": "Share of the cluster's patients with the code (%).",
    "pct_in_ci": "Wilson 95% CI of that share.",
    "pct_out": "Share of the other patients of the same sex with the code (%).",
    "pct_out_ci": "Wilson 95% CI of that share.",
    "lift": "Share in the cluster divided by the share in the whole sex.",
    "c_df_ipf": "Share in the cluster times ln(patients of the sex / patients with the code) "
                "(the study's c-DF-IPF).",
    "rate_ci": "Wilson 95% CI of the rate.", "male_ci": "Wilson 95% CI of the male share.",
    "female_ci": "Wilson 95% CI of the female share.",
    "extract_file": "The extract file the record came from.",
    "Year": "Discharge year.", "APRSeverityLevel": "APR-DRG severity of illness (1-4).",
    # counts and shares (suppressed below the minimum cell)
    "size": "Patients in the cluster (counts under 10 shown as <10).",
    "n": "Patients counted (under 10 shown as <10).",
    "n_patients": "Patients with a value of the variable.",
    "total": "Patients in total (under 10 shown as <10).",
    "female_n": "Female patients (under 10 shown as <10).",
    "male_n": "Male patients (under 10 shown as <10).",
    "n_female": "Female patients in the test.", "n_male": "Male patients in the test.",
    "female_pct": "Share of female patients (%).", "male_pct": "Share of male patients (%).",
    "pct": "Share (%).", "pct_of_sex": "Share of the sex's patients in the cluster (%).",
    "rate_pct": "Patients with a code of the group per 100 patients.",
    "prevalence": "Share of scored patients with the outcome (hidden when too rare).",
    "addition": "Not in the study's table (an addition of this platform).",
    # cluster description
    "top_codes": "Codes with the highest c-DF-IPF in the cluster (descriptor, score).",
    "top_terms": "Class-based TF-IDF descriptor terms of the cluster.",
    "mean_n_codes": "Mean number of distinct codes per patient in the cluster.",
    "shared_codes": "Codes weighing high in both clusters' profiles.",
    "differing_codes": "Codes with the largest profile gap; (F>M) weighs more in the female "
                       "cluster, (M>F) in the male.",
    "similarity": "Cosine similarity of the two clusters' c-DF-IPF profiles.",
    "matched": "Paired by the Hungarian assignment with similarity above the setting.",
    # k selection and stability
    "k": "Number of clusters.", "own_k": "The representation's own k (clusterability test).",
    "chosen": "The k the selection rule chose.", "n_resamples": "Resamples scored.",
    "silhouette": "Mean cosine silhouette.", "macro_silhouette": "Silhouette averaged per "
    "cluster, then over clusters (every cluster counts equally).",
    "mean_jaccard": "Mean Jaccard similarity to the best-matching cluster over bootstrap "
                    "resamples (Hennig 2007).",
    "sd_jaccard": "Standard deviation of that Jaccard.",
    "dissolved_rate": "Share of resamples in which the cluster dissolved (Jaccard < 0.5).",
    "recovered_rate": "Share of resamples in which it was recovered (Jaccard >= 0.75).",
    "unstable": "Mean Jaccard under the stability warning threshold.",
    "mean_stability": "Mean cluster stability (Jaccard) of the clustering.",
    "ari_vs_transformer": "Adjusted Rand index against the run's clusters.",
    # confounder audit and usefulness
    "eta_squared": "Share of the variable's variance explained by the clusters (eta²).",
    "ami_binned": "Adjusted mutual information with the variable in k quantile groups.",
    "baseline_eta_squared": "eta² for the multi-hot baseline at the same k.",
    "baseline_ami_binned": "Binned AMI for the multi-hot baseline at the same k.",
    "eta_excess": "eta² above the baseline's.",
    "eta2_n_codes": "eta² of codes per patient at the representation's own k.",
    "eta2_stay": "eta² of log length of stay at the representation's own k.",
    "eta2_cost": "eta² of log APR cost at the representation's own k.",
    # clusterability
    "cohort": "Null cohort number.",
    "beats_null": "Beats the degree-preserving null on both silhouette and stability.",
    "beats_null_silhouette": "Silhouette beats the null (z and p thresholds).",
    "beats_null_stability": "Stability beats the null (z and p thresholds).",
    "stability": "Mean bootstrap Jaccard (the clusterability pipeline's; or at the run's k).",
    # evaluation
    "auroc": "Out-of-fold AUROC of a 5-fold cross-validated logistic regression.",
    "ci_low": "Lower bound of the bootstrap 95% CI of the AUROC.",
    "ci_high": "Upper bound of the bootstrap 95% CI of the AUROC.",
    "outcome_auroc": "Mean AUROC over the scored outcomes.",
    "masked_auroc": "Mean AUROC over the scored masked diagnoses.",
    "n_codes_r2": "Out-of-fold R² of codes per patient predicted from the representation "
                  "(how much of it is code count; lower is better).",
    "best": "Criteria on which this representation is best.",
    # tests and distributions
    "statistic": "Test statistic.", "dof": "Degrees of freedom.", "p_value": "p value.",
    "mean": "Mean.", "sd": "Standard deviation.", "median": "Median.",
    "p1": "1st percentile.", "q1": "First quartile.", "q3": "Third quartile.",
    "p99": "99th percentile.", "cap": "Display cap.", "lowerfence": "Lower fence (Tukey).",
    "upperfence": "Upper fence (Tukey).",
}

#: Column-name prefixes and suffixes with a meaning of their own.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("v: ", "Cramér's V of the clusters (own k) with the binary outcome: {}."),
    ("null_", "Over the null cohorts: {}."),
)
SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_mean", "Mean over resamples of {}."), ("_sd", "Standard deviation over resamples of {}."),
    ("_z", "z against the null cohorts: {}."), ("_p", "Empirical p against the null: {}."),
    ("_ci_low", "Lower 95% Wilson bound: {}."), ("_ci_high", "Upper 95% Wilson bound: {}."),
)


def describe(column: str) -> str:
    """The dictionary's description of a column ("" when it has none)."""
    if column in COLUMNS:
        return COLUMNS[column]
    for prefix, template in PATTERNS:
        if column.startswith(prefix):
            return template.format(column.removeprefix(prefix).replace("_", " "))
    for suffix, template in SUFFIXES:
        if column.endswith(suffix):
            return template.format(column.removesuffix(suffix).replace("_", " "))
    return ""
