"""The thresholds that turn curation signals into keep / review / drop."""

from __future__ import annotations

from dataclasses import dataclass, fields

from safecal.annotate.errors import InputError

UNIFORM_MODES = ("contradicting", "all", "off")


@dataclass(frozen=True)
class CurationThresholds:
    """When a signal sends a query to review or drop.

    Annotator answers (risk label, image relevance, modality, category): a query
    goes to *review* when at least ``answer_share`` of the annotators who
    answered, and at least ``min_contradicting`` of them, contradict its labels
    (so one annotator's slip among two is not enough by default), and to *drop*
    (risk label, or an image the risk needs) when at least ``drop_share`` of at
    least ``drop_min_answers`` annotators do. Category and modality corrections
    are fixes, never drops.

    Responses: *review* when humans disagree (binary view) on at least
    ``human_disagreement`` of the query's responses that have two or more
    labels (and at least ``min_labelled_responses`` such responses), and when
    the judge disagrees with the human label on at least ``judge_disagreement``
    of at least ``min_judged_responses`` compared responses; in both cases the
    disagreement must also be concentrated on the query: a one-sided binomial
    test against the overall rate gives ``p <= disagreement_p`` (a query whose
    responses disagree only as often as everywhere else is not flagged).

    Uniform outcome (every model refuses / every model complies, over at least
    ``min_models`` models): ``uniform="contradicting"`` reviews only the
    direction that contradicts the query's aspect (every model complies with a
    harmful query; every model refuses a benign probe) and notes the other;
    ``"all"`` reviews both; ``"off"`` ignores the signal.

    Near-duplicates: cosine similarity of TF-IDF vectors at least
    ``duplicate_review`` sends the later copy to review, at least
    ``duplicate_drop`` drops it. ``duplicate_languages="any"`` takes the highest
    of the English and Chinese similarities (a copy in either language counts),
    ``"all"`` the lowest (a copy must be one in both languages the pair has).
    With ``compare_images`` a pair whose images differ (difference-hash Hamming distance above
    ``image_distance`` of 256 bits) is only noted: one text template with
    different images is a legitimate multimodal design (USB's RIST items). The
    default 8 of 256 bits tolerates re-encoding and resizing; on the bundled
    example different drawings of one style sit at 11 bits or more.
    """

    answer_share: float = 0.5
    min_contradicting: int = 2
    drop_share: float = 1.0
    drop_min_answers: int = 2
    human_disagreement: float = 0.5
    min_labelled_responses: int = 2
    judge_disagreement: float = 0.5
    min_judged_responses: int = 3
    disagreement_p: float = 0.01
    uniform: str = "contradicting"
    min_models: int = 2
    duplicate_review: float = 0.85
    duplicate_drop: float = 0.95
    duplicate_languages: str = "any"
    compare_images: bool = True
    image_distance: int = 8

    def __post_init__(self) -> None:
        for name in (
            "answer_share",
            "drop_share",
            "human_disagreement",
            "judge_disagreement",
            "duplicate_review",
            "duplicate_drop",
        ):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise InputError(f"threshold {name}={value}: must be in (0, 1]")
        for name in (
            "min_contradicting",
            "drop_min_answers",
            "min_labelled_responses",
            "min_judged_responses",
            "min_models",
        ):
            if getattr(self, name) < 1:
                raise InputError(f"threshold {name}={getattr(self, name)}: must be at least 1")
        if self.duplicate_drop < self.duplicate_review:
            raise InputError(
                f"threshold duplicate_drop={self.duplicate_drop} is below duplicate_review="
                f"{self.duplicate_review}; the drop threshold must be the higher one"
            )
        if self.drop_share < self.answer_share:
            raise InputError(
                f"threshold drop_share={self.drop_share} is below answer_share="
                f"{self.answer_share}; the drop threshold must be the higher one"
            )
        if self.uniform not in UNIFORM_MODES:
            raise InputError(f"uniform={self.uniform!r}: choose one of {', '.join(UNIFORM_MODES)}")
        if not 0 <= self.image_distance <= 256:
            raise InputError(f"image_distance={self.image_distance}: must be in 0..256")
        if self.duplicate_languages not in ("all", "any"):
            raise InputError(f"duplicate_languages={self.duplicate_languages!r}: choose all or any")
        if not 0.0 < self.disagreement_p <= 1.0:
            raise InputError(f"disagreement_p={self.disagreement_p}: must be in (0, 1]")

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
