/**
 * Great-circle distance.
 * @module
 */

const EARTH_RADIUS_KM = 6371.0088;

/** A point on Earth in degrees. */
export interface LatLon {
  /** Latitude in degrees. */
  lat: number;
  /** Longitude in degrees. */
  lon: number;
}

/** Haversine distance in kilometres between two points. */
export function haversineKm(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A place whose location may be unknown. */
export interface MaybeLocated {
  /** Latitude in degrees, when known. */
  lat?: number;
  /** Longitude in degrees, when known. */
  lon?: number;
}

/**
 * The distance in kilometres (to 0.1 km) between two places, or null when either location is
 * unknown. Computed when needed, never stored as truth: either side may move.
 */
export function geoKmBetween(a: MaybeLocated, b: MaybeLocated): number | null {
  if (a.lat === undefined || a.lon === undefined || b.lat === undefined || b.lon === undefined) {
    return null;
  }
  return Math.round(haversineKm({ lat: a.lat, lon: a.lon }, { lat: b.lat, lon: b.lon }) * 10) / 10;
}
