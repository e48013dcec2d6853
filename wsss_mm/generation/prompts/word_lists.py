"""Word lists of the offline prompter (no network, no model).

``SCENES`` maps a background phrase to scene tags; ``CLASS_TAGS`` maps a
class name (lower case, VOC / COCO / CamVid names) to the tags of scenes in
which it is plausibly photographed. The offline plausibility score of a
background for a class grows with the number of shared tags. Classes not
listed get a neutral score (every scene equally plausible). Configs can
extend or replace both tables.
"""

SCENES = {
    'on a busy city street at dusk': ['urban', 'road'],
    'in a quiet suburban driveway': ['urban', 'road', 'home'],
    'on a country road between green fields': ['road', 'field', 'outdoor'],
    'on a sandy beach under a clear sky': ['water', 'outdoor', 'nature'],
    'in a harbour with calm water and moored boats': ['water', 'urban'],
    'on a wide lake surrounded by hills': ['water', 'nature'],
    'on a river flowing through an old town': ['water', 'urban'],
    'on the open sea near a rocky coast': ['water', 'nature'],
    'in a green meadow with wildflowers': ['nature', 'outdoor', 'field'],
    'on a forest trail in autumn': ['nature', 'outdoor'],
    'in a farmyard beside a wooden barn': ['farm', 'field', 'outdoor'],
    'on a fenced pasture in the countryside': ['farm', 'field', 'nature'],
    'high in a cloudy blue sky': ['sky'],
    'on an airport apron next to the terminal': ['airport', 'urban'],
    'at a railway station platform': ['rail', 'urban'],
    'on tracks crossing open countryside': ['rail', 'field', 'outdoor'],
    'in a cozy living room with warm lamps': ['indoor', 'home'],
    'in a bright modern kitchen': ['indoor', 'home'],
    'in a dining room set for dinner': ['indoor', 'home'],
    'in an office with desks and shelves': ['indoor', 'office'],
    'in a sunny city park': ['outdoor', 'nature', 'urban'],
    'in a snowy mountain village': ['outdoor', 'urban', 'nature'],
    'on a sidewalk lined with shops': ['urban', 'road'],
    'in a garden with flower beds': ['outdoor', 'nature', 'home'],
}

LIGHTING = [
    'in soft morning light',
    'at golden hour',
    'on an overcast day',
    'under bright midday sun',
    'in the blue hour after sunset',
    'in light rain',
]

_ROAD = ['road', 'urban']
_HOME = ['indoor', 'home']
CLASS_TAGS = {
    # PASCAL VOC
    'aeroplane': ['sky', 'airport'],
    'airplane': ['sky', 'airport'],
    'bicycle': _ROAD + ['outdoor'],
    'bird': ['sky', 'nature', 'water', 'field'],
    'boat': ['water'],
    'bottle': _HOME + ['office'],
    'bus': _ROAD,
    'car': _ROAD,
    'cat': _HOME + ['garden'],
    'chair': _HOME + ['office'],
    'cow': ['farm', 'field'],
    'diningtable': _HOME,
    'dining table': _HOME,
    'dog': _HOME + ['outdoor', 'nature', 'urban'],
    'horse': ['farm', 'field', 'outdoor'],
    'motorbike': _ROAD,
    'motorcycle': _ROAD,
    'person': ['urban', 'road', 'outdoor', 'nature', 'indoor', 'home',
               'office', 'water', 'field', 'farm', 'airport', 'rail'],
    'pottedplant': _HOME + ['office'],
    'potted plant': _HOME + ['office'],
    'sheep': ['farm', 'field'],
    'sofa': _HOME,
    'couch': _HOME,
    'train': ['rail'],
    'tvmonitor': _HOME + ['office'],
    'tv': _HOME + ['office'],
    'truck': _ROAD + ['farm'],
    # CamVid
    'sky': ['outdoor', 'urban', 'road', 'nature', 'field', 'sky'],
    'building': ['urban', 'road'],
    'pole': _ROAD,
    'road': _ROAD + ['field'],
    'pavement': _ROAD,
    'sidewalk': _ROAD,
    'tree': ['nature', 'outdoor', 'urban'],
    'signsymbol': _ROAD,
    'fence': _ROAD + ['farm'],
    'pedestrian': _ROAD + ['outdoor'],
    'bicyclist': _ROAD,
}
