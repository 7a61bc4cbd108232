#pragma once
// The RaptorQ (RFC 6330) codec: include this for the whole public API.

#include "nextmini/raptorq/block_decoder.hpp"
#include "nextmini/raptorq/block_encoder.hpp"
#include "nextmini/raptorq/object_decoder.hpp"
#include "nextmini/raptorq/object_encoder.hpp"
#include "nextmini/raptorq/oti.hpp"
