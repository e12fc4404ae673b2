#pragma once
// A loss may use the models below it.
#include "models/box_ops.h"
