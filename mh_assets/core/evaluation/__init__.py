"""Which representation earns its keep (Beaney et al. 2023): score each on what it never saw.

Read top to bottom, the pipeline of one partition::

    tasks = outcome_tasks(corpus) + [block_task(corpus, b) for b in BLOCKS]   # tasks.py
    masked = mask_block(corpus, block)            # the representation rebuilt without it
    score = score_outcome(X, task.target, ScoringConfig())   # scoring.py: CV AUROC + CI
    r2 = out_of_fold_r2(X, n_codes, config)       # how much of X is code count
    evaluation = evaluate_representations(corpus, representations)            # evaluate.py
    useful = cluster_usefulness(corpus, own_k_clusterings(features, ks))      # usefulness.py
    recommendation = recommend(evaluation, stability, beats_null, run)        # recommendation.py
"""

from mh_assets.core.evaluation.evaluate import Evaluation, evaluate_representations
from mh_assets.core.evaluation.recommendation import Recommendation, recommend
from mh_assets.core.evaluation.scoring import ScoringConfig, out_of_fold_r2, score_outcome
from mh_assets.core.evaluation.tasks import BLOCKS, block_task, mask_block, outcome_tasks
from mh_assets.core.evaluation.usefulness import cluster_usefulness, own_k_clusterings

__all__ = [
    "BLOCKS", "Evaluation", "Recommendation", "ScoringConfig", "block_task",
    "cluster_usefulness", "evaluate_representations", "mask_block", "out_of_fold_r2",
    "outcome_tasks", "own_k_clusterings", "recommend", "score_outcome",
]
