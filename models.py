"""Load whichever model a weights file holds: a fully connected Network or a ConvNetwork."""

from conv_network import ConvNetwork
from network import ModelFileError, Network, load_npz

MODEL_CLASSES = {model_class.model_type: model_class for model_class in (Network, ConvNetwork)}


def load_model(path):
    """The model saved in `path`, of the type the file records. Raises ModelFileError for a bad file."""
    arrays = load_npz(path)
    model_type = str(arrays["model_type"])
    if model_type not in MODEL_CLASSES:
        raise ModelFileError(f"'{path}' holds a model of unknown type '{model_type}'")
    return MODEL_CLASSES[model_type].from_arrays(arrays, path)
