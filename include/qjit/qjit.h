// Everything an engine needs: include this one header.
#pragma once

#include "qjit/dynamic_range_quantize.h"
#include "qjit/element.h"
#include "qjit/linear.h"
#include "qjit/norm_quantize.h"
#include "qjit/scaled_matmul.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"
#include "qjit/weight_only_linear.h"
