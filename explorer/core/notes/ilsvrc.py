"""ILSVRC classification winners by year, with their top-5 error on the test set.

Sources: the challenge's published results pages (image-net.org/challenges/LSVRC/<year>/results) and their
summary in Russakovsky et al., "ImageNet Large Scale Visual Recognition Challenge", IJCV 115 (2015), which
lists the winner of the classification task each year; MSRA's ResNet 3.57% also in He et al. CVPR 2016,
Table 5. Figures for entries trained on the provided data only keep the years comparable: SuperVision's 2012
entry scored 15.3% and Clarifai's 2013 entry 11.2% only with extra training data; without it, 16.4%
(Krizhevsky et al. NeurIPS 2012, Table 2: "5 CNNs") and 11.7%. The study notes round the 2015 figure to 3.5%.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IlsvrcResult:
    year: int
    team: str
    model: str
    top5_error: float        # percent, classification test set
    note: str = ""


WINNERS: list[IlsvrcResult] = [
    IlsvrcResult(2010, "NEC-UIUC", "SIFT/LBP, super-vector coding, linear SVM", 28.2),
    IlsvrcResult(2011, "XRCE", "Fisher vectors, linear SVM", 25.8),
    IlsvrcResult(2012, "SuperVision", "AlexNet", 16.4, "15.3% with extra ImageNet Fall 2011 data"),
    IlsvrcResult(2013, "Clarifai", "ZFNet", 11.7, "11.2% with extra data"),
    IlsvrcResult(2014, "GoogLeNet", "GoogLeNet (Inception)", 6.7, "VGG 2nd with 7.3%"),
    IlsvrcResult(2015, "MSRA", "ResNet", 3.57),
]

# Runners-up the notes discuss, for annotation.
OTHERS: list[IlsvrcResult] = [
    IlsvrcResult(2014, "VGG", "VGG-16/19", 7.3, "2nd place"),
]


def by_year() -> dict[int, IlsvrcResult]:
    return {r.year: r for r in WINNERS}


def improvement(start: int = 2010, end: int = 2015) -> float:
    """How many times lower the top-5 error is in `end` than in `start`."""
    years = by_year()
    return years[start].top5_error / years[end].top5_error
