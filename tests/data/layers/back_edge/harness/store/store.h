#pragma once
// The back edge: the store must not know the trainer above it.
#include "harness/config/config.h"
#include "harness/train/trainer.h"
