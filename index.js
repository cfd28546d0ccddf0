'use strict';
// The compiled TypeScript layer (dist/) is the package's implementation; see ts/ for the sources.
module.exports = require('./dist/index.js');
