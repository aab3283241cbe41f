from .configuration_mcihn import MCIHNConfig
from .configuration_mcn_cl import IEMOCAP_LABELS, MELD_LABELS, MCNCLConfig
from .modeling_mcihn import (
    MCIHNForMultimodalSentiment,
    MCIHNModel,
    MCIHNPreTrainedModel,
    MCIHNSentimentOutput,
)
from .modeling_mcn_cl import (
    MCNCLForEmotionRecognition,
    MCNCLModel,
    MCNCLOutput,
    MCNCLPreTrainedModel,
)
from .streaming_mcn_cl import MCNCLStream

__all__ = [
    "MCNCLConfig",
    "IEMOCAP_LABELS",
    "MELD_LABELS",
    "MCNCLPreTrainedModel",
    "MCNCLModel",
    "MCNCLForEmotionRecognition",
    "MCNCLOutput",
    "MCNCLStream",
    "MCIHNConfig",
    "MCIHNPreTrainedModel",
    "MCIHNModel",
    "MCIHNForMultimodalSentiment",
    "MCIHNSentimentOutput",
]
