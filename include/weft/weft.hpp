// weft/weft.hpp - everything: Go's concurrency vocabulary for C++20.
//
// One header per primitive or pattern is also fine: <weft/channel.hpp>, <weft/select.hpp>,
// <weft/time.hpp>, <weft/wait_group.hpp>, <weft/go.hpp>, <weft/context.hpp>, <weft/errors.hpp>.
#pragma once

#include "broadcast.hpp"
#include "channel.hpp"
#include "context.hpp"
#include "error_group.hpp"
#include "errors.hpp"
#include "fan.hpp"
#include "future.hpp"
#include "go.hpp"
#include "pipeline.hpp"
#include "rate.hpp"
#include "select.hpp"
#include "semaphore.hpp"
#include "time.hpp"
#include "wait_group.hpp"
#include "worker_pool.hpp"
