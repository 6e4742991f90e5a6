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
