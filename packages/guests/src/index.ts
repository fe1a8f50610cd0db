// @ringvisor/guests: Ringvisor's own guest programs (sources/, built by build.sh) as prebuilt
// images with the metadata a loader needs.
export { GUESTS, type GuestName, type GuestImage, type GuestFormat } from './images.js';
export { guestImagePath, readGuestImage } from './paths.js';
export { EXIT_PORT, EXIT_SUCCESS, EXIT_CODES } from './exit-codes.js';
