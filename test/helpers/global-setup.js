// Builds dist/ once before the suite (tests that spawn the real `doorstep` binary need it).
module.exports = async () => {
  require('../../scripts/build-if-needed.js');
};
