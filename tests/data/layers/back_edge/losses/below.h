#pragma once
// A loss may use the models below it.
#include "models/anchors/box_ops.h"
