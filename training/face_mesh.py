"""The face's outline from a dense landmark model, for the self-blending mask.

MTCNN's five points give the mask a template outline (`training.sbi_mask.face_contour`) that
cannot follow a turned head's cheek or a long chin. SBI draws its mask from dense landmarks;
MediaPipe's face mesh (468 points, Apache-2.0, `assets/face_landmark.tflite` from the mediapipe
0.10.21 wheel) runs here through the LiteRT interpreter in about 1 ms a face on a CPU core.

The mesh expects an upright face filling about two thirds of a 192 px square: the crop is
rotated so the eyes are level, centred between eyes and mouth and scaled from the five points,
and the 36 points of the face's silhouette are mapped back into the crop's pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MODEL_PATH = Path(__file__).parent / "assets" / "face_landmark.tflite"
MODEL_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
INPUT_SIZE = 192
"""The mesh model's input side, px."""
FACE_SPAN = 3.0
"""The input square's side in units of the larger of eye distance and eye-to-mouth distance:
the face then fills about two thirds of it, as MediaPipe's 1.5x enlarged detection box does."""
MIN_PRESENCE = 0.5
"""Below this face-presence probability the mesh is not trusted (the five points stand in)."""
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
"""The mesh's silhouette, forehead round to forehead: the topology of MediaPipe's face mesh."""


def _alignment(landmarks: np.ndarray) -> np.ndarray:
    """The 2x3 affine taking the crop to the mesh's input: eyes level, face centred."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left, right = pts[0], pts[1]
    eyes, mouth = (left + right) / 2.0, (pts[3] + pts[4]) / 2.0
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    span = FACE_SPAN * max(float(np.linalg.norm(right - left)), float(np.linalg.norm(mouth - eyes)))
    centre = (eyes + mouth) / 2.0
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, INPUT_SIZE / span)
    matrix[:, 2] += INPUT_SIZE / 2.0 - centre
    return matrix


class FaceMesh:
    """The face outline of one crop at a time; the interpreter loads on first use, in the
    process that uses it (a DataLoader worker builds its own)."""

    def __init__(self, model_path: Path = MODEL_PATH) -> None:
        self.model_path = Path(model_path)
        self._interpreter: object | None = None

    def _run(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        from ai_edge_litert.interpreter import Interpreter

        if self._interpreter is None:
            interpreter = Interpreter(model_path=str(self.model_path), num_threads=1)
            interpreter.allocate_tensors()
            self._interpreter = interpreter
        it = self._interpreter
        assert isinstance(it, Interpreter)
        it.set_tensor(it.get_input_details()[0]["index"], image[None])
        it.invoke()
        points, presence = it.get_output_details()[:2]
        mesh = it.get_tensor(points["index"]).reshape(-1, 3)[:, :2]
        logit = float(it.get_tensor(presence["index"]).ravel()[0])
        return mesh.astype(np.float64), 1.0 / (1.0 + np.exp(-logit))

    def outline(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
        """The face's silhouette (36, 2) in `image`'s pixels (uint8 RGB), or None when the mesh
        does not see a face there."""
        matrix = _alignment(landmarks)
        size = (INPUT_SIZE, INPUT_SIZE)
        face = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)
        mesh, presence = self._run(face.astype(np.float32) / 255.0)
        if presence < MIN_PRESENCE:
            return None
        back = cv2.invertAffineTransform(matrix)
        silhouette = mesh[list(FACE_OVAL)]
        result: np.ndarray = silhouette @ back[:, :2].T + back[:, 2]
        return result
