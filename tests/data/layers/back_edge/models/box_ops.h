#pragma once
#include "models/box_ops.h"
