#pragma once
#include "models/anchors/box_ops.h"
