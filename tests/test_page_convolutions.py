"""The Convolutions page (AppTest): what it draws equals the engine and Keras' rules."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnlab.convolution import KERNELS, apply_kernel, pool
from tests.apptest import ROOT, fresh_resources, plotly_figure  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fresh_resources")


def _page(**query) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    app.switch_page("pages/6_Convolutions.py").run()
    assert not app.exception, app.exception
    return app


def _markdown(app: AppTest) -> str:
    return "\n".join(element.value for element in app.markdown)


def test_a_digit_through_sobel_same_padding_stride_two():
    app = _page()
    app.segmented_control(key="convolution_source").set_value("Data set image").run()
    app.selectbox(key="convolution_dataset").set_value("digits").run()
    app.selectbox(key="convolution_kernel_name").set_value("Sobel x (vertical edges)").run()
    app.segmented_control(key="convolution_padding").set_value("same").run()
    app.slider(key="convolution_stride").set_value(2).run()
    app.segmented_control(key="convolution_pooling").set_value("average").run()
    assert not app.exception and not app.error, (app.exception, app.error)
    image = np.array(plotly_figure(app, "convolution_input")["data"][0]["z"], np.float32)
    assert image.shape == (32, 32)  # the digits data set's training size
    feature = np.array(plotly_figure(app, "convolution_feature")["data"][0]["z"], np.float32)
    expected = apply_kernel(image, KERNELS["Sobel x (vertical edges)"], padding="same", stride=2)
    np.testing.assert_allclose(feature, expected, atol=1e-4)
    pooled = np.array(plotly_figure(app, "convolution_pooled")["data"][0]["z"], np.float32)
    np.testing.assert_allclose(pooled, pool(expected, kind="average"), atol=1e-4)
    text = _markdown(app)
    assert "`ceil(32 / 2) = 16, padded by 0 + 1 zeros`" in text
    assert "`floor((16 - 2) / 2) + 1 = 8`" in text
    # (3 x 3 x 3 + 1) x 32 parameters; 16 x 16 x 32 x 3 x 3 x 3 multiply-adds.
    assert "**896**" in text and f"**{16 * 16 * 32 * 27:,}**" in text
    app.number_input(key="convolution_in_channels").set_value(64).run()
    assert f"**{(9 * 64 + 1) * 32:,}**" in _markdown(app)


def test_dilation_is_off_while_the_stride_is_above_one_and_the_stack_field_is_shown():
    app = _page()
    app.slider(key="convolution_dilation").set_value(2).run()
    assert "k' = 2 x (3 - 1) + 1 = 5" in _markdown(app)
    app.slider(key="convolution_stride").set_value(2).run()
    assert app.slider(key="convolution_dilation").disabled
    assert "k'" not in _markdown(app)
    # The default stack: conv 3, conv 3, pool 2/2, conv 3 -> 1 + 2 + 2 + 1 + 2 x 2 = 10.
    assert "one output sees **10×10** input pixels" in _markdown(app)


def test_projector_mode_from_the_address_enlarges_charts_and_folds_controls():
    app = _page(present="1")
    assert app.toggle(key="projector_toggle").value is True
    assert any(exp.label == "Kernel, padding, stride, pooling" for exp in app.expander)
    figure = plotly_figure(app, "convolution_feature")
    assert figure["layout"]["template"]["layout"]["xaxis"]["tickfont"]["size"] >= 20
    app.toggle(key="projector_toggle").set_value(False).run()
    assert "present" not in app.query_params
    figure = plotly_figure(app, "convolution_feature")
    assert figure["layout"]["template"]["layout"]["xaxis"]["tickfont"]["size"] == 14
    assert not any(exp.label == "Kernel, padding, stride, pooling" for exp in app.expander)


def test_the_train_page_in_projector_mode_takes_present_for_no_config_field():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.query_params["present"] = "1"
    app.run()
    app.switch_page("pages/1_Train.py").run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    assert app.toggle(key="projector_toggle").value is True


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_an_uploaded_photo_goes_through_the_defensive_decoder(data):
    from ui.convolution_controls import _photo

    with pytest.raises(ValueError, match="Could not read the uploaded file as an image"):
        _photo(data, 64)
