FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -c constraints.txt . ./toolbox_payme ./toolbox_click ./toolbox_bts ./toolbox_eskiz ./toolbox_moysklad
EXPOSE 8000
CMD ["toolbox", "serve", "--host", "0.0.0.0", "--port", "8000"]
