"""The study's methods as plain functions on polars / numpy / torch / scikit-learn.

Nothing here imports Dagster: every module reads as a methods paragraph and is
unit-tested directly. In the order of the method:

* :mod:`.registry` -- an RAE-CMBD extract parsed into one schema;
* :mod:`.cohort` -- the study's selection, every exclusion reason kept;
* :mod:`.icd` and :mod:`.corpus` -- normalised codes, their descriptors, one text per
  patient, and how well the codes were covered;
* :mod:`.modelling` -- masked-LM pre-training, contrastive fine-tuning, embeddings;
* :mod:`.clustering` -- k selection, K-Means, stability, profiles, the confounder
  audit, baselines, the null test and the verdict, male/female pairs;
* :mod:`.publish` -- small-cell suppression, the supplementary tables, their files,
  figures and the report;
* :mod:`.synthetic` -- synthetic extracts with planted structure (or none).

Around them: :mod:`.layout` names every artifact path, :mod:`.storage` writes them
atomically, :mod:`.schema` names the columns, :mod:`.environment` the code that ran.
"""
